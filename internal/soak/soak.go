// Package soak runs the connector for a long time the way production runs
// it, with what goes wrong in production happening often: the real handler
// binary under the local timer host (package timerhost), against the local
// default stack (package localstack), with live traffic whose visibility lags
// within the settle delay, random faults on the Activities API and the Logs
// Ingestion API, and random SIGKILLs of the handler mid-run.
//
// At the end it stops the traffic, waits past the settle delay, drains, and
// accounts for every simulated activity: delivered, lost, duplicated (allowed
// — rows of the last upload a killed process had accepted, which SPEC
// promise 2 lets it send again — or unexplained), and reports the lag, the
// API's rate limit and the invocations' outcomes. cmd/soak is its command
// line; `make soak` runs it.
package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
	"github.com/mcas-sentinel/mcas-sentinel/internal/timerhost"
)

// Options configure a soak run; zero fields take the defaults of cmd/soak.
type Options struct {
	// AppRoot holds host.json and MCASTimerTrigger/function.json. They are
	// copied to a private app root, so a developer's local.settings.json
	// (which may point at real Azure) is never read.
	AppRoot string
	// Handler is the handler binary (go build ./handler). Required.
	Handler string
	// Dir keeps the run's state (CA, Sentinel JSONL files). Empty: a
	// temporary directory, removed at the end.
	Dir string

	Duration  time.Duration // the traffic phase; default 1h
	Rate      float64       // live activities per second; default 20
	Schedule  string        // MCAS_SCHEDULE (NCRONTAB, with seconds); default every 10 s
	Settle    time.Duration // MCAS_SETTLE_DELAY; activities become visible within 3/4 of it; default 10s
	Budget    time.Duration // MCAS_RUN_BUDGET; default 30s (the handler's minimum)
	RPM       int           // MCAS_REQUESTS_PER_MINUTE and the simulated tenant's limit; default 30
	FaultRate float64       // fraction of requests to each stand-in that get a random fault; negative: none; default 0.1
	ScanMode  bool          // MCAS_SCAN_MODE: read with the API's scan mode
	// ReorderTies has the tenant list ties in a new order on every call
	// (mcasapi.Options.ReorderTies).
	ReorderTies bool
	// KillEvery is the mean time between SIGKILLs of the handler; negative:
	// none; default 2m. No kill starts in the last 15 s of the traffic phase
	// (its second half if shorter), so the drain does not wait out a dead lease.
	KillEvery time.Duration
	Seed      uint64 // seeds the tenant, the faults and the kills; 0: from the clock
	// DrainTimeout bounds the drain after the traffic phase; default 3×Budget+1m.
	DrainTimeout time.Duration
	// Progress is the interval of status lines; default Duration/10 within [5s, 1m].
	Progress time.Duration
	// Interrupt, when closed, ends the traffic phase early; the drain and the
	// accounting still run.
	Interrupt <-chan struct{}
	Verbose   bool      // print every invocation and the handler's stderr
	Out       io.Writer // progress; default os.Stdout
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Duration, time.Hour)
	def(&o.Settle, 10*time.Second)
	def(&o.Budget, 30*time.Second)
	def(&o.KillEvery, 2*time.Minute)
	def(&o.DrainTimeout, 3*o.Budget+time.Minute)
	def(&o.Progress, min(max(o.Duration/10, 5*time.Second), time.Minute))
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.Schedule == "" {
		o.Schedule = "*/10 * * * * *"
	}
	if o.RPM == 0 {
		o.RPM = 30
	}
	if o.FaultRate == 0 {
		o.FaultRate = 0.1
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Handler == "" {
		errs = append(errs, errors.New("the handler binary is required (go build -o bin/handler ./handler)"))
	} else if fi, err := os.Stat(o.Handler); err != nil || fi.IsDir() {
		errs = append(errs, fmt.Errorf("handler binary %s: not a file (build it: go build -o bin/handler ./handler)", o.Handler))
	}
	if o.Duration < 0 || o.Rate < 0 || o.RPM < 0 || o.Settle < 0 {
		errs = append(errs, errors.New("duration, rate, rpm and settle must not be negative"))
	}
	if o.FaultRate > 1 {
		errs = append(errs, fmt.Errorf("fault rate %g is above 1", o.FaultRate))
	}
	return errors.Join(errs...)
}

// quiet is the end of the traffic phase in which no kill starts: a run
// killed holding the lease holds up the next ones for up to the lease TTL
// (15 s at 30 calls a minute), which the drain would have to wait out.
func (o Options) quiet() time.Duration { return min(15*time.Second, o.Duration/2) }

// Run runs one soak and returns its report. The error says why the soak
// could not run or finish (the stack did not start, the host gave up, the
// drain timed out); a report comes back whenever the traffic phase started,
// and its Violations say whether the promises held.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	dir, sentinelDir := opts.Dir, ""
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mcas-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else {
		sentinelDir = filepath.Join(dir, "sentinel")
	}
	appRoot, err := prepareApp(opts.AppRoot, opts.Handler, filepath.Join(dir, "app"))
	if err != nil {
		return nil, err
	}

	stack, err := localstack.Start(ctx, localstack.Options{
		Dir:         dir,
		SentinelDir: sentinelDir,
		Sim:         mcasapi.Options{Seed: opts.Seed, RequestsPerMinute: opts.RPM, RetryAfter: true, ReorderTies: opts.ReorderTies},
	})
	if err != nil {
		return nil, fmt.Errorf("start the local stack: %w", err)
	}
	defer stack.Close()
	rate := max(opts.FaultRate, 0)
	stack.Sim.Faults.SetRandom(rate, opts.Seed, APIFaults...)
	stack.Ingestion.Faults.SetRandom(rate, opts.Seed^0x5851f42d4c957f2d, IngestionFaults...)

	env := stack.HandlerEnv(os.Environ())
	env = append(env,
		"MCAS_SCHEDULE="+opts.Schedule,
		"MCAS_INITIAL_LOOKBACK=1h",
		"MCAS_SETTLE_DELAY="+opts.Settle.String(),
		"MCAS_RUN_BUDGET="+opts.Budget.String(),
		fmt.Sprintf("MCAS_REQUESTS_PER_MINUTE=%d", opts.RPM),
		fmt.Sprintf("MCAS_SCAN_MODE=%t", opts.ScanMode),
		"CHECKPOINT_TABLE=mcassoak",
		"FUNCTIONS_WORKER_RUNTIME=Custom",
	)
	app, err := timerhost.LoadApp(appRoot, env)
	if err != nil {
		return nil, err
	}
	w := newWatch(stack, opts)
	host, err := timerhost.New(app, timerhost.Options{
		OnEvent: w.event,
		// Longer than the 250 ms the kill accounting waits after an exit, so
		// no upload of the next process is taken for the killed one's.
		RestartDelay: time.Second,
		StopGrace:    5 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	hostCtx, stopHost := context.WithCancel(ctx)
	defer stopHost()
	hostDone := make(chan error, 1)
	go func() { hostDone <- host.Run(hostCtx) }()

	w.printf("soak: seed %d, %s of %.1f activities/s, schedule %q, settle %s, budget %s, %d calls/min, scan mode %t, ties reordered %t, fault rate %.2f, a kill every ~%s\n",
		opts.Seed, opts.Duration, opts.Rate, opts.Schedule, opts.Settle, opts.Budget, opts.RPM, opts.ScanMode, opts.ReorderTies, rate, killEvery(opts.KillEvery))

	// The traffic phase.
	start := time.Now()
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	w.behindSince(start)
	var bg sync.WaitGroup
	bg.Go(func() { stack.Sim.Live(liveCtx, opts.Rate, opts.Settle*3/4) })
	bg.Go(func() { w.sampleLag(liveCtx) })
	bg.Go(func() { w.progress(liveCtx, start) })
	if opts.KillEvery > 0 {
		bg.Go(func() { w.killLoop(liveCtx, start.Add(opts.Duration-opts.quiet())) })
	}
	var hostErr error
	hostGone := false
	phase := time.NewTimer(opts.Duration)
	defer phase.Stop()
	select {
	case <-phase.C:
	case <-opts.Interrupt:
		w.printf("soak: interrupted after %s: stopping the traffic, draining\n", time.Since(start).Round(time.Second))
	case <-ctx.Done():
	case hostErr = <-hostDone:
		hostGone = true
	}
	stopLive()
	bg.Wait()
	trafficEnd := time.Now()

	// The drain: no more faults or kills; one invocation whose window ends
	// after the last activity was created must find nothing more to do.
	stack.Sim.Faults.SetRandom(0, 0)
	stack.Ingestion.Faults.SetRandom(0, 0)
	var drainErr error
	switch {
	case hostGone:
		drainErr = errors.New("the timer host stopped during the traffic phase")
	case ctx.Err() == nil:
		w.printf("soak: traffic stopped after %s; waiting out the settle delay, then draining\n", trafficEnd.Sub(start).Round(time.Second))
		if sleepCtx(ctx, opts.Settle+time.Second) {
			drainErr = w.drain(ctx, host, trafficEnd.Add(opts.Settle), opts.DrainTimeout)
		}
	}
	if ctx.Err() != nil {
		drainErr = fmt.Errorf("soak aborted: %w", ctx.Err())
	}
	stopHost()
	if !hostGone {
		hostErr = <-hostDone
	}
	if errors.Is(hostErr, context.Canceled) {
		hostErr = nil
	}
	rep := w.report(start, trafficEnd, drainErr)
	return rep, errors.Join(drainErr, hostErr)
}

func killEvery(d time.Duration) string {
	if d <= 0 {
		return "never"
	}
	return d.String()
}

// prepareApp lays out a private function app root: host.json and the
// function folder copied, and the handler linked where host.json names it.
func prepareApp(src, handler, dst string) (string, error) {
	for _, f := range []string{"host.json", filepath.Join("MCASTimerTrigger", "function.json")} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", fmt.Errorf("app root: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return "", err
		}
	}
	exe, err := filepath.Abs(handler)
	if err != nil {
		return "", err
	}
	rel, err := executablePath(filepath.Join(dst, "host.json"))
	if err != nil {
		return "", err
	}
	link := filepath.Join(dst, rel)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", err
	}
	_ = os.Remove(link)
	if err := os.Symlink(exe, link); err != nil {
		return "", fmt.Errorf("link the handler into the app root: %w", err)
	}
	return dst, nil
}

// executablePath returns host.json's customHandler.description.defaultExecutablePath,
// which must be relative to the app root (bin/handler).
func executablePath(hostJSON string) (string, error) {
	b, err := os.ReadFile(hostJSON)
	if err != nil {
		return "", err
	}
	var h struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("%s: %w", hostJSON, err)
	}
	p := h.CustomHandler.Description.DefaultExecutablePath
	if p == "" || filepath.IsAbs(p) || !filepath.IsLocal(p) {
		return "", fmt.Errorf("%s: defaultExecutablePath %q is not a path under the app root", hostJSON, p)
	}
	return p, nil
}
