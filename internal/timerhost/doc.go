// Package timerhost runs an Azure Functions custom handler the way the
// Functions host does for timer triggers, without the Functions host.
//
// Azure Functions Core Tools cannot be installed everywhere the project runs,
// so this package stands in for `func start` on timer-only apps:
//
//   - [LoadApp] reads host.json, every <Function>/function.json with a
//     timerTrigger binding and local.settings.json, resolving %SETTING%
//     references against the settings overlaid by the process environment.
//   - [Host.Run] starts the handler executable with the environment the host
//     gives it (FUNCTIONS_CUSTOMHANDLER_PORT and friends), waits until it
//     answers GET /, restarts it when it exits, and POSTs the host's timer
//     payload to /<FunctionName> at every NCRONTAB occurrence (UTC). It never
//     runs two invocations of one function at once, collapses occurrences
//     missed by an overrunning invocation into one IsPastDue invocation, and
//     enforces host.json's functionTimeout by killing and restarting the
//     handler, as the host does.
//   - Everything that happens is reported as typed [Event] values to
//     [Options.OnEvent], in order, from a single goroutine, so a terminal UI
//     can print them directly.
//   - [Options.StopWhen] and [Options.MaxInvocations] bound a run for tests and
//     smoke checks; the context bounds it in time.
//
// The package targets Unix: the handler runs in its own process group, and
// stopping the host signals the whole group so that nothing it started
// survives.
package timerhost
