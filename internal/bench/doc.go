// Package bench measures the built handler binary against the local default
// stack (package localstack): `make bench`, through cmd/bench.
//
// It runs three measurements, each on a fresh simulated tenant holding a
// backlog, with the handler started as the Functions host starts it and
// invoked through POST /MCASTimerTrigger until the backlog is drained:
//
//   - Pacing: with the simulated tenant enforcing a sliding-window rate
//     limit equal to the connector's MCAS_REQUESTS_PER_MINUTE (on a scaled
//     clock, so a run takes seconds), the activities read per second over the
//     steady state of the backlog, as a ratio of the ceiling (calls per
//     minute × 100 activities per call), the 429s the tenant answered and the
//     most calls it saw in any window.
//   - Cost: the handler's CPU time (user + system) and peak RSS (ru_maxrss),
//     from the exited process's rusage, per 100,000 activities at several
//     backlog sizes, against a baseline measured in the same run: the
//     cmd/bench/baseline program, built the same way, which does only the
//     unavoidable work (decode each page, build the rows with
//     sentinel.ActivityRowBuilder, pack them into sentinel.Batch and gzip
//     each batch) for the very same pages, rendered from the same simulated
//     tenant and piped to its standard input (see WritePages).
//   - Readiness: the time from starting the process to GET / answering 200,
//     the median of several starts.
//
// Every run also checks that each activity of the tenant reached the Logs
// Ingestion stand-in exactly once, by ActivityId. The smoke test asserts
// only such correctness properties, never timings.
package bench
