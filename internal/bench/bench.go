package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/modroot"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// Handler settings common to every run. The backlog lies in the hour before
// the last minute, well inside the lookback, and is visible at once.
const (
	settleDelay     = "1s"
	initialLookback = "2h"
	// runBudget is the longest MCAS_RUN_BUDGET host.json's functionTimeout
	// (10 min) allows with its 1 min margin, less a minute; runs that reach
	// it are simply invoked again.
	runBudget = 8 * time.Minute
	// maxInvocations bounds the invocations one drain may take.
	maxInvocations = 50
	// readyTimeout bounds the wait for GET / to answer.
	readyTimeout = 30 * time.Second
	// stopGrace bounds the wait for the handler to exit after SIGTERM.
	stopGrace = 30 * time.Second
)

// Run builds the handler and the baseline program, starts one Azurite, and
// runs the measurements cfg asks for. A failed check (an activity lost or
// sent twice, a throttled call) is recorded in the report, not returned as
// an error; Report.Failures lists them.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bench configuration: %w", err)
	}
	r := &runner{cfg: cfg, log: cfg.Log, start: time.Now()}
	if r.log == nil {
		r.log = io.Discard
	}
	var err error
	if r.repo = cfg.RepoRoot; r.repo == "" {
		if r.repo, err = modroot.Find("."); err != nil {
			return nil, fmt.Errorf("%w: run from the repository or pass its root", err)
		}
	}
	if r.dir = cfg.WorkDir; r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "mcas-bench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(r.dir)
	}

	rep := &Report{Start: time.Now(), Machine: readMachine(), Config: cfg}
	rep.LoadBefore = loadAverage()

	r.logf("building the handler and the baseline program")
	if r.bins, err = buildBinaries(ctx, r.repo, r.dir, cfg.HandlerTags); err != nil {
		return nil, err
	}
	r.logf("starting Azurite")
	if r.azurite, err = azurite.Start(ctx, azurite.Options{Bin: filepath.Join(r.repo, "tools", "azurite", "node_modules", ".bin", "azurite-table")}); err != nil {
		return nil, err
	}
	defer r.azurite.Stop()

	for i := range cfg.Reps {
		if cfg.PaceBacklog > 0 {
			p, err := r.pace(ctx, i)
			if err != nil {
				return nil, fmt.Errorf("pacing run %d: %w", i+1, err)
			}
			rep.Pace = append(rep.Pace, p)
		}
	}
	if len(cfg.ScanPages) > 0 {
		for _, page := range append([]int{0}, cfg.ScanPages...) {
			set := ScanSet{Scan: page != 0, PageSize: cmp.Or(page, mcas.MaxPageSize)}
			for i := range cfg.Reps {
				p, err := r.scanRun(ctx, page, i)
				if err != nil {
					return nil, fmt.Errorf("scan comparison, %s, repetition %d: %w", modeName(set.Scan, set.PageSize), i+1, err)
				}
				set.Reps = append(set.Reps, p)
			}
			rep.Scan = append(rep.Scan, set)
		}
	}
	if len(cfg.CostSizes) > 0 {
		for i := range cfg.StartupReps {
			c, err := r.cost(ctx, 1, i)
			if err != nil {
				return nil, fmt.Errorf("start-up run %d: %w", i+1, err)
			}
			rep.Startup = append(rep.Startup, c)
		}
	}
	for _, n := range cfg.CostSizes {
		size := CostSize{Backlog: n}
		for i := range cfg.CostReps(n) {
			c, err := r.cost(ctx, n, i)
			if err != nil {
				return nil, fmt.Errorf("cost run at %d activities, repetition %d: %w", n, i+1, err)
			}
			size.Reps = append(size.Reps, c)
		}
		rep.Cost = append(rep.Cost, size)
	}
	if cfg.ReadyStarts > 0 {
		if rep.Ready, err = r.readiness(ctx); err != nil {
			return nil, fmt.Errorf("readiness: %w", err)
		}
	}
	rep.LoadAfter = loadAverage()
	rep.Took = time.Since(rep.Start)
	return rep, nil
}

// runner holds what the measurements share.
type runner struct {
	cfg     Config
	log     io.Writer
	repo    string
	dir     string
	bins    binaries
	azurite *azurite.Process
	seq     int // stacks started, for their directories and checkpoint tables
	start   time.Time
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "bench %6.1fs: "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
}

// newStack starts a local stack on the shared Azurite with a simulated
// tenant holding a backlog of n activities, and returns the handler's
// settings for it with a checkpoint table of its own.
func (r *runner) newStack(ctx context.Context, sim mcasapi.Options, n int, rpm int) (*localstack.Stack, []string, error) {
	r.seq++
	sim.Seed = r.cfg.Seed + uint64(r.seq)
	st, err := localstack.Start(ctx, localstack.Options{
		Dir:                     filepath.Join(r.dir, "stack-"+strconv.Itoa(r.seq)),
		AzuriteConnectionString: r.azurite.ConnectionString(),
		Sim:                     sim,
		IngestionKeep:           keepActivityID,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("local stack: %w", err)
	}
	if n > 0 {
		now := st.Sim.Now()
		st.Sim.Backfill(st.Sim.Generator(), now.Add(-61*time.Minute), now.Add(-time.Minute), n)
	}
	env := append(st.Env(),
		fmt.Sprintf("CHECKPOINT_TABLE=bench%d%d", os.Getpid()%100000, r.seq),
		"MCAS_REQUESTS_PER_MINUTE="+strconv.Itoa(rpm),
		"MCAS_SETTLE_DELAY="+settleDelay,
		"MCAS_INITIAL_LOOKBACK="+initialLookback,
		"MCAS_RUN_BUDGET="+runBudget.String(),
	)
	return st, append(env, r.cfg.HandlerEnv...), nil
}

// closeStack stops a stack and hands its memory back, so one run's tenant
// and accepted rows do not weigh on the next.
func closeStack(st *localstack.Stack) {
	_ = st.Close()
	runtime.GC()
	debug.FreeOSMemory()
}

// drained is one handler process draining its stack's backlog.
type drained struct {
	Usage       usage
	Ready       time.Duration // process start to GET / answering
	Drain       time.Duration // first invocation to the last one's answer
	Invocations int
}

// drain starts the handler with env, invokes it until the backlog is
// drained, stops it and returns its usage.
func (r *runner) drain(ctx context.Context, env []string) (drained, error) {
	var d drained
	var verbose io.Writer
	if r.cfg.Verbose {
		verbose = r.log
	}
	p, err := startHandler(r.bins.handler, r.repo, env, verbose)
	if err != nil {
		return d, err
	}
	defer p.kill()
	if d.Ready, err = p.waitReady(ctx, readyTimeout); err != nil {
		return d, err
	}
	start := time.Now()
	if d.Invocations, err = p.drain(ctx, maxInvocations); err != nil {
		return d, err
	}
	d.Drain = time.Since(start)
	if d.Usage, err = p.stop(stopGrace); err != nil {
		return d, err
	}
	return d, nil
}

// readiness starts the handler ReadyStarts times against one stack and
// returns each start's time to GET / answering.
func (r *runner) readiness(ctx context.Context) ([]time.Duration, error) {
	st, env, err := r.newStack(ctx, mcasapi.Options{}, 0, r.cfg.CostRPM)
	if err != nil {
		return nil, err
	}
	defer closeStack(st)
	r.logf("readiness: %d starts", r.cfg.ReadyStarts)
	var out []time.Duration
	for range r.cfg.ReadyStarts {
		p, err := startHandler(r.bins.handler, r.repo, env, nil)
		if err != nil {
			return nil, err
		}
		took, err := p.waitReady(ctx, readyTimeout)
		if err != nil {
			p.kill()
			return nil, err
		}
		if _, err := p.stop(stopGrace); err != nil {
			return nil, err
		}
		out = append(out, took)
	}
	return out, nil
}

// errNoSteadyState is returned when a pacing backlog is too small to
// measure.
var errNoSteadyState = errors.New("the backlog is too small for a steady state: raise it")
