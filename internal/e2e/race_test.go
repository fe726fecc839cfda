//go:build race

package e2e

// raceBuild makes TestMain also build the handler with the race detector when
// the tests themselves run with -race (as make test does), so a data race in
// the real process under the tests' load fails the run.
const raceBuild = true
