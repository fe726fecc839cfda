// Package azurite runs the real Azurite storage emulator (its Table service
// only) as a child process, for tests and for the local default stack
// (`make run`).
//
// Azurite is pinned by tools/azurite/package.json and installed with
// `npm ci --no-audit --no-fund` in tools/azurite (the Makefile does this before
// `make test` and `make run`). Start finds tools/azurite/node_modules/.bin/
// azurite-table by walking up from the working directory to the module root,
// picks a free loopback port, waits until the emulator accepts connections and
// returns a Process whose ConnectionString is what aztables needs. Stop kills
// the emulator's whole process group and waits for it, so nothing is left
// running. With Options.TLS and Options.OAuth it serves HTTPS and accepts
// bearer tokens, as a storage account does for a managed identity.
//
// The package also holds the emulator's well-known development account, which
// the checkpoint package uses to translate `UseDevelopmentStorage=true`.
package azurite
