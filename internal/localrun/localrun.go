// Package localrun is `make run`: the real handler binary under the local
// timer host, against the local default stack, with a simulated tenant that
// has a backlog over the initial lookback and new activities arriving live.
// It prints what a new user needs to see: each invocation's outcome, a
// progress line while a backfill runs, and a hint when something is wrong.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
	"github.com/mcas-sentinel/mcas-sentinel/internal/timerhost"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Options are the knobs `make run` exposes.
type Options struct {
	AppRoot  string        // holds host.json, MCASTimerTrigger/ and the handler binary
	StateDir string        // .local: checkpoint, Sentinel files, the simulation's epoch
	Volume   int           // backlog activities over the lookback
	Rate     float64       // live activities per second
	Schedule string        // NCRONTAB
	Lookback time.Duration // MCAS_INITIAL_LOOKBACK
	RPM      int           // MCAS_REQUESTS_PER_MINUTE, and the simulated tenant's limit
	Settle   time.Duration // MCAS_SETTLE_DELAY; live activities become visible within it
	Budget   time.Duration // MCAS_RUN_BUDGET
	// UntilDrained stops once the backlog is forwarded and an invocation
	// found nothing more to do (tests, demos).
	UntilDrained bool
	// MaxInvocations, when positive, stops after that many invocations.
	MaxInvocations int
	Verbose        bool // show the handler's own log lines
	Out            io.Writer
}

// Report is what a run leaves for a caller that checks it.
type Report struct {
	Simulated   []mcasapi.Activity // every activity the tenant held
	SentinelDir string
	PIDs        []int // every process the run started (handlers, Azurite)
}

type state struct {
	Epoch time.Time `json:"epoch"` // the backlog is generated before this, the same on every run
	Seed  uint64    `json:"seed"`
	// APIAddr is where the simulated tenant listens: the checkpoint is kept
	// per API host, so a second run must find the tenant where it was.
	APIAddr string `json:"apiAddr,omitempty"`
}

// Run brings the stack up, runs the timer host until ctx ends (or the
// backlog is drained with UntilDrained) and stops everything.
func Run(ctx context.Context, opts Options) (rep Report, err error) {
	var out io.Writer = os.Stdout
	if opts.Out != nil {
		out = opts.Out
	}
	// The progress line and the host's events are written from two goroutines.
	out = &lockedWriter{w: out}
	st, err := loadState(opts.StateDir)
	if err != nil {
		return rep, err
	}
	rep.SentinelDir = filepath.Join(opts.StateDir, "sentinel")
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir:             opts.StateDir,
		SentinelDir:     rep.SentinelDir,
		AzuriteLocation: filepath.Join(opts.StateDir, "azurite"),
		Sim:             mcasapi.Options{Seed: st.Seed, RequestsPerMinute: opts.RPM, RetryAfter: true},
		APIAddr:         st.APIAddr,
	})
	if err != nil {
		return rep, withHint(err)
	}
	defer stack.Close()
	if addr := strings.TrimPrefix(stack.APIURL, "https://"); addr != st.APIAddr {
		if st.APIAddr != "" {
			fmt.Fprintf(out, "note: %s is taken, so the simulated tenant moved to %s and starts a new checkpoint\n", st.APIAddr, addr)
		}
		st.APIAddr = addr
		if err := saveState(opts.StateDir, st); err != nil {
			return rep, err
		}
	}
	rep.PIDs = append(rep.PIDs, stack.Azurite.PID())

	// The same backlog on every run (same seed, same epoch), so a second
	// `make run` resumes from its checkpoint instead of seeing a new past.
	gen := mcasapi.NewGenerator(st.Seed)
	stack.Sim.Backfill(gen, backlogStart(st.Epoch, opts.Lookback), st.Epoch, opts.Volume)
	stack.Sim.Generator().SetVisibilityDelay(opts.Settle * 3 / 4)

	env := stack.HandlerEnv(os.Environ())
	env = append(env,
		"MCAS_SCHEDULE="+opts.Schedule,
		"MCAS_INITIAL_LOOKBACK="+opts.Lookback.String(),
		"MCAS_SETTLE_DELAY="+opts.Settle.String(),
		"MCAS_RUN_BUDGET="+opts.Budget.String(),
		fmt.Sprintf("MCAS_REQUESTS_PER_MINUTE=%d", opts.RPM),
		"CHECKPOINT_TABLE=mcascheckpoints",
		"FUNCTIONS_WORKER_RUNTIME=Custom",
	)
	app, err := timerhost.LoadApp(opts.AppRoot, env)
	if err != nil {
		return rep, withHint(err)
	}
	printBanner(out, stack, opts, rep.SentinelDir)

	liveCtx, stopLive := context.WithCancel(ctx)
	var live sync.WaitGroup
	if opts.Rate > 0 {
		live.Go(func() { stack.Sim.Live(liveCtx, opts.Rate, opts.Settle*3/4) })
	}
	defer func() { stopLive(); live.Wait() }()

	prog := &progress{out: out, ingest: stack, start: time.Now()}
	var mu sync.Mutex
	host, err := timerhost.New(app, timerhost.Options{
		OnEvent: func(e timerhost.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e := e.(type) {
			case timerhost.HandlerStarted:
				rep.PIDs = append(rep.PIDs, e.PID)
				fmt.Fprintf(out, "%s handler started (pid %d), ready after %s\n", stamp(e.Time), e.PID, e.ReadyAfter.Round(time.Millisecond))
			case timerhost.HandlerExited:
				fmt.Fprintf(out, "%s %s\n", stamp(e.Time), e)
			case timerhost.InvocationStarted:
				prog.begin()
				past := ""
				if e.PastDue {
					past = " (past due)"
				}
				fmt.Fprintf(out, "%s invocation %s started%s\n", stamp(e.Time), short(e.ID), past)
			case timerhost.InvocationFinished:
				prog.end()
				printFinished(out, e)
			case timerhost.Timeout:
				fmt.Fprintf(out, "%s %s\n", stamp(e.Time), e)
			case timerhost.Output:
				if opts.Verbose || e.Stream == timerhost.Stderr {
					fmt.Fprintf(out, "    handler %s: %s\n", e.Stream, e.Line)
				}
			}
		},
		MaxInvocations: opts.MaxInvocations,
		StopWhen: func(f timerhost.InvocationFinished) bool {
			return opts.UntilDrained && f.Err == nil && drained(f) && len(forwarded(stack)) >= opts.Volume
		},
	})
	if err != nil {
		return rep, err
	}
	stopProgress := prog.run(ctx)
	err = host.Run(ctx)
	stopProgress()
	rep.Simulated = stack.Sim.Activities()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(out, "stopping: everything started is being stopped")
		err = nil
	}
	return rep, withHint(err)
}

// backlogStart is where the simulated backlog begins: a tenth of the
// lookback (at most 10 minutes) after epoch-lookback. The first run reads
// from its own start minus the lookback, and it starts after epoch (Azurite,
// the stand-ins and the first timer tick come first: 45 s under make test's
// load once), so a backlog reaching back the whole lookback had its oldest
// activities outside every run's window.
func backlogStart(epoch time.Time, lookback time.Duration) time.Time {
	return epoch.Add(-lookback + min(lookback/10, 10*time.Minute))
}

func drained(f timerhost.InvocationFinished) bool {
	s := strings.Join(f.Logs, " ")
	return strings.Contains(s, "more to do: no")
}

func forwarded(stack *localstack.Stack) []json.RawMessage {
	return stack.Ingestion.Rows(schema.Activity().Stream)
}

func loadState(dir string) (state, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return state{}, err
	}
	path := filepath.Join(dir, "localrun.json")
	var st state
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &st) == nil && !st.Epoch.IsZero() {
		return st, nil
	}
	st = state{Epoch: time.Now().UTC().Truncate(time.Second), Seed: uint64(time.Now().UnixNano())}
	return st, saveState(dir, st)
}

func saveState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "localrun.json"), b, 0o644)
}

func printBanner(out io.Writer, s *localstack.Stack, o Options, sentinelDir string) {
	fmt.Fprintf(out, "mcas-sentinel on the local default stack (Ctrl-C stops everything)\n")
	fmt.Fprintf(out, "  Activities API    %s  simulated tenant: %d backlog activities over %s, %.1f/s live, %d calls a minute\n", s.APIURL, o.Volume, o.Lookback, o.Rate, o.RPM)
	fmt.Fprintf(out, "  Key Vault         %s/  secret %s\n", s.KeyVaultURL, localstack.SecretName)
	fmt.Fprintf(out, "  Managed identity  %s\n", s.IdentityURL)
	fmt.Fprintf(out, "  Logs Ingestion    %s  writes %s\n", s.IngestionURL, filepath.Join(sentinelDir, schema.Activity().Table+".jsonl"))
	fmt.Fprintf(out, "  Checkpoint        Azurite %s  table mcascheckpoints\n", s.Azurite.TableEndpoint())
	fmt.Fprintf(out, "  Schedule          %s (MCAS_SCHEDULE), settle delay %s, run budget %s\n", o.Schedule, o.Settle, o.Budget)
}

func printFinished(out io.Writer, e timerhost.InvocationFinished) {
	took := e.Duration.Round(time.Millisecond)
	if e.Err != nil {
		fmt.Fprintf(out, "%s invocation %s FAILED after %s: %v\n", stamp(e.Time), short(e.ID), took, e.Err)
		fmt.Fprintf(out, "    hint: %s\n", hintFor(e.Err.Error()))
		return
	}
	for _, l := range e.Logs {
		fmt.Fprintf(out, "%s invocation %s done in %s: %s\n", stamp(e.Time), short(e.ID), took, l)
	}
}

func stamp(t time.Time) string { return t.Local().Format("15:04:05") }

func short(id string) string { return id[:min(8, len(id))] }

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
