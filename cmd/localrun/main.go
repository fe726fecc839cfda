// Command localrun is `make run`: the connector's handler binary under a
// local timer host, against Azurite and the project's stand-ins, with nothing
// from the cloud. Ctrl-C stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localrun"
)

func main() {
	var o localrun.Options
	flag.StringVar(&o.AppRoot, "app", ".", "the function app root (host.json, MCASTimerTrigger/, bin/handler)")
	flag.StringVar(&o.StateDir, "state", ".local", "where the checkpoint, the Sentinel files and the simulation's state live")
	flag.IntVar(&o.Volume, "volume", 2000, "backlog activities spread over the lookback")
	flag.Float64Var(&o.Rate, "rate", 2, "live activities per second")
	flag.StringVar(&o.Schedule, "schedule", "*/15 * * * * *", "NCRONTAB schedule (MCAS_SCHEDULE)")
	flag.DurationVar(&o.Lookback, "lookback", 24*time.Hour, "initial lookback (MCAS_INITIAL_LOOKBACK)")
	flag.IntVar(&o.RPM, "rpm", 30, "API calls a minute, for the connector and the simulated tenant's limit")
	flag.DurationVar(&o.Settle, "settle", 5*time.Second, "settle delay (MCAS_SETTLE_DELAY); live activities become visible within it")
	flag.DurationVar(&o.Budget, "budget", 8*time.Minute, "run budget (MCAS_RUN_BUDGET)")
	flag.BoolVar(&o.UntilDrained, "until-drained", false, "stop once the backlog is forwarded")
	flag.BoolVar(&o.Verbose, "v", false, "show the handler's own log lines")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := localrun.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}
