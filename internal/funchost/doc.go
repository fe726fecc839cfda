// Package funchost speaks the Azure Functions custom-handler protocol for a
// timer-triggered function: it decodes the host's invocation request, calls the
// connector, and answers in the shape the host expects.
//
// The host starts the handler process, polls GET / until it answers, then POSTs
// each invocation to /<FunctionName>. A 200 with {"Outputs":{},"Logs":[...],
// "ReturnValue":null} is success; any other status fails the invocation and the
// host discards Logs, so failures are also logged with slog (to stderr, which the
// host classifies as errors) together with the invocation id.
//
// The timer payload's timestamps are .NET DateTime values: seven fractional
// digits and, before the first run, no offset at all (0001-01-01T00:00:00).
// encoding/json rejects those as time.Time, so they are kept as HostTime strings
// and parsed leniently on demand.
package funchost
