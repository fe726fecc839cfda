// Command handler is the mcas-sentinel Azure Functions custom handler: it
// loads its settings, wires the Key Vault, Activities API, Table Storage and
// Logs Ingestion clients, and serves the MCASTimerTrigger function on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT until SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/config"
	"github.com/mcas-sentinel/mcas-sentinel/internal/funchost"
	"github.com/mcas-sentinel/mcas-sentinel/internal/timerslack"
)

// functionName is the folder holding function.json; the host posts to /<name>.
const functionName = "MCASTimerTrigger"

func main() {
	// First, since on Linux it starts the program again (same PID, files
	// and environment) with the slack that spares sysmon's wake-ups.
	slack, slackErr := timerslack.Ensure(timerslack.Slack)
	setProcs(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := funchost.NewLogger(os.Stdout, os.Stderr, slog.LevelInfo)
	if slackErr != nil && !errors.Is(slackErr, errors.ErrUnsupported) {
		logger.Warn("running with the kernel's timer slack: a little more CPU per call, nothing else changes", "error", slackErr)
	}
	if err := run(ctx, os.Getenv, logger, slack.Slack); err != nil {
		logger.Error("handler stopped", "error", err)
		os.Exit(1)
	}
}

// setProcs runs the Go scheduler on one P unless GOMAXPROCS says otherwise.
// The work is paced by the Activities API (30 calls a minute, ~10 ms of CPU
// each; a 5,000-activity scan page takes ~0.6 s), so a second P buys no
// throughput, only the cost of handing goroutines between threads at every
// network wait: about a tenth more CPU per activity in make bench.
func setProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

func run(ctx context.Context, getenv func(string) string, logger *slog.Logger, slack time.Duration) error {
	addr, err := funchost.ListenAddr(getenv)
	if err != nil {
		return err
	}
	grace := time.Minute
	var (
		invoke funchost.InvokeFunc
		opts   []funchost.HandlerOption
	)
	cfg, err := config.Load(getenv)
	if err != nil {
		// Still serve, so the host sees a ready worker and every invocation
		// fails with the message naming every bad setting.
		cfgErr := fmt.Errorf("configuration: %w", err)
		logger.Error("invalid configuration: every invocation will fail until it is fixed", "error", err)
		invoke = func(context.Context, funchost.Invocation) (funchost.Result, error) {
			return funchost.Result{}, cfgErr
		}
	} else {
		app, err := wire(cfg, logger)
		if err != nil {
			return err
		}
		app.stopping = ctx.Done()
		invoke = app.invoke
		// The token out of anything app.invoke did not redact: a panic's value.
		opts = append(opts, funchost.WithRedact(app.tokens.Redact))
		// On SIGTERM a run winds down (app.invoke) within an upload and a
		// save; the grace only bounds an upload that hangs.
		grace = cfg.RunBudget + 2*time.Minute
		logger.Info("ready", "config", cfg, "procs", runtime.GOMAXPROCS(0), "timerslack", slack)
	}
	return funchost.Serve(ctx, addr, funchost.NewHandler(functionName, invoke, logger, opts...), grace, logger)
}
