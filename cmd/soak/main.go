// Command soak is `make soak`: the connector's handler binary under the local
// timer host for a long time (-duration, 1h by default), against the local
// default stack with live traffic, random faults on the Activities API and
// the Logs Ingestion API, and random SIGKILLs of the handler. At the end it
// drains and prints what became of every activity. It exits 0 when nothing
// was lost, nothing duplicated beyond the allowed, the rate limit held and
// no token leaked; 1 when a promise broke; 2 when the soak could not run.
//
// The first Ctrl-C ends the traffic early and still drains and reports; a
// second one aborts.
//
//	go run ./cmd/soak -duration 2m            # a quick one
//	go run ./cmd/soak -seed 42 -v             # reproduce a run's faults and kills, verbosely
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcas-sentinel/mcas-sentinel/internal/soak"
)

func main() {
	var o soak.Options
	flag.StringVar(&o.AppRoot, "app", ".", "the function app root (host.json, MCASTimerTrigger/)")
	flag.StringVar(&o.Handler, "handler", "bin/handler", "the handler binary (make build)")
	flag.StringVar(&o.Dir, "dir", "", "keep the run's state here (CA, Sentinel JSONL files); default a temporary directory")
	flag.DurationVar(&o.Duration, "duration", 0, "how long live traffic runs (default 1h)")
	flag.Float64Var(&o.Rate, "rate", 0, "live activities per second (default 20)")
	flag.StringVar(&o.Schedule, "schedule", "", `NCRONTAB schedule, MCAS_SCHEDULE (default "*/10 * * * * *")`)
	flag.DurationVar(&o.Settle, "settle", 0, "MCAS_SETTLE_DELAY; activities become visible within 3/4 of it (default 10s)")
	flag.DurationVar(&o.Budget, "budget", 0, "MCAS_RUN_BUDGET (default 30s, the handler's minimum)")
	flag.IntVar(&o.RPM, "rpm", 0, "MCAS_REQUESTS_PER_MINUTE and the simulated tenant's limit (default 30)")
	flag.Float64Var(&o.FaultRate, "fault-rate", 0, "fraction of requests to the API and to ingestion that fail at random; -1 for none (default 0.1)")
	flag.BoolVar(&o.ScanMode, "scan", false, "MCAS_SCAN_MODE=true: read with the API's scan mode")
	flag.BoolVar(&o.ReorderTies, "reorder-ties", false, "the tenant lists activities that share a created millisecond (or a date) in a new order on every call")
	flag.DurationVar(&o.KillEvery, "kill-every", 0, "mean time between SIGKILLs of the handler; -1s for none (default 2m)")
	flag.Uint64Var(&o.Seed, "seed", 0, "seed of the tenant, the faults and the kills (default: from the clock; printed)")
	flag.DurationVar(&o.DrainTimeout, "drain-timeout", 0, "bound on the drain after the traffic (default 3×budget+1m)")
	flag.DurationVar(&o.Progress, "progress", 0, "interval of status lines (default duration/10, within 5s..1m)")
	flag.BoolVar(&o.Verbose, "v", false, "print every invocation and the handler's stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "soak: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	interrupt := make(chan struct{})
	o.Interrupt = interrupt
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "soak: interrupted: stopping the traffic, draining and reporting (again to abort)")
		close(interrupt)
		<-sig
		abort()
	}()

	rep, err := soak.Run(ctx, o)
	if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
	switch {
	case rep != nil && !rep.OK():
		os.Exit(1)
	case err != nil:
		os.Exit(2)
	}
}
