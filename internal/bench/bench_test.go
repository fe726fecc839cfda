package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQuickRun is the bench's smoke test in `make test`: the quick mode on
// small backlogs must produce every measurement and deliver every activity
// exactly once without a single 429. It asserts no timing: the numbers of a
// loaded test machine mean nothing.
func TestQuickRun(t *testing.T) {
	cfg := Quick()
	cfg.WorkDir = t.TempDir()
	cfg.PaceBacklog = 2_500
	cfg.CostSizes = []int{1_500}
	cfg.ReadyStarts = 2
	// The bench proper holds the connector to the very limit. Here the
	// tenant allows 10% more: with the clock scaled to a 6 s window the
	// connector's 1% margin is 60 ms, no more than the scheduling hiccups of
	// a loaded machine, and this test must not flake. Under the race detector
	// the in-process tenant is slower than the pacer anyway; the e2e test
	// TestPacingAcrossProcesses is the one that presses the exact limit.
	cfg.PaceSimLimit = cfg.simLimit() * 11 / 10
	cfg.ScanSimLimit = cfg.scanLimit() * 11 / 10
	var log bytes.Buffer
	cfg.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, log.String())
	}
	t.Logf("progress:\n%s", log.String())
	if f := rep.Failures(); len(f) > 0 {
		t.Errorf("failed checks: %v", f)
	}

	if len(rep.Pace) != 1 {
		t.Fatalf("%d pacing runs, want 1", len(rep.Pace))
	}
	p := rep.Pace[0]
	if !p.Delivery.ExactlyOnce() || p.Delivery.Expected != cfg.PaceBacklog {
		t.Errorf("pacing run delivered %s, want all %d exactly once", p.Delivery, cfg.PaceBacklog)
	}
	if p.Throttle != 0 {
		t.Errorf("the tenant answered %d calls 429, want 0", p.Throttle)
	}
	if p.MaxInWindow > p.Limit {
		t.Errorf("%d calls within %s, over the limit of %d", p.MaxInWindow, p.Window, p.Limit)
	}
	if p.Calls < cfg.PaceBacklog/100 || p.Steady.Calls == 0 || p.Steady.Rate <= 0 || p.Ratio() <= 0 {
		t.Errorf("pacing measurements missing: %+v", p)
	}

	if len(rep.Scan) != 2 {
		t.Fatalf("%d scan comparison sets, want list mode and scan mode at %v", len(rep.Scan), cfg.ScanPages)
	}
	for i, want := range []struct {
		scan    bool
		page    int
		minRows int // per measured call
	}{{false, 100, 100}, {true, 500, 450}} {
		set := rep.Scan[i]
		if set.Scan != want.scan || set.PageSize != want.page || len(set.Reps) != 1 {
			t.Errorf("scan set %d: scan %v, page %d, %d reps; want scan %v, page %d, 1 rep", i, set.Scan, set.PageSize, len(set.Reps), want.scan, want.page)
			continue
		}
		p := set.Reps[0]
		if !p.Delivery.ExactlyOnce() || p.Delivery.Expected != want.page*cfg.ScanCalls || p.Throttle != 0 {
			t.Errorf("%s: delivered %s with %d throttled, want all %d exactly once and none", modeName(set.Scan, set.PageSize), p.Delivery, p.Throttle, want.page*cfg.ScanCalls)
		}
		if p.Steady.Calls == 0 || p.Steady.Rows < want.minRows*p.Steady.Calls {
			t.Errorf("%s: %d activities over %d measured calls, want at least %d a call", modeName(set.Scan, set.PageSize), p.Steady.Rows, p.Steady.Calls, want.minRows)
		}
	}

	if len(rep.Cost) != 1 || len(rep.Cost[0].Reps) != 1 {
		t.Fatalf("cost runs %+v, want one size with one repetition", rep.Cost)
	}
	c := rep.Cost[0].Reps[0]
	if !c.Delivery.ExactlyOnce() || c.Delivery.Expected != cfg.CostSizes[0] {
		t.Errorf("cost run delivered %s, want all %d exactly once", c.Delivery, cfg.CostSizes[0])
	}
	for name, u := range map[string]usage{"handler": c.Handler.Usage, "baseline": c.Baseline, "baseline before": c.BaselineRuns[0], "baseline after": c.BaselineRuns[1]} {
		if u.CPU <= 0 || u.MaxRSS <= 0 || u.Wall <= 0 {
			t.Errorf("%s usage not measured: %+v", name, u)
		}
	}

	if len(rep.Startup) != cfg.StartupReps {
		t.Fatalf("%d start-up runs, want %d", len(rep.Startup), cfg.StartupReps)
	}
	for i, c := range rep.Startup {
		if !c.Delivery.ExactlyOnce() || c.Delivery.Expected != 1 || c.Handler.Usage.CPU <= 0 || c.Baseline.CPU <= 0 {
			t.Errorf("start-up run %d: delivered %s, handler %s, baseline %s; want the one activity once and both measured", i+1, c.Delivery, c.Handler.Usage.CPU, c.Baseline.CPU)
		}
	}

	if len(rep.Ready) != cfg.ReadyStarts {
		t.Errorf("%d readiness starts measured, want %d", len(rep.Ready), cfg.ReadyStarts)
	}
	for i, d := range rep.Ready {
		if d <= 0 {
			t.Errorf("start %d: readiness %s", i, d)
		}
	}

	var text, md bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Throughput when backlogged", "Scan mode: what it buys", "CPU and memory per 100,000 activities", "Readiness", "Machine: "} {
		if !strings.Contains(text.String(), want) || !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s\n%s", want, text.String(), md.String())
		}
	}
	if !strings.Contains(md.String(), "|---|") {
		t.Errorf("markdown report has no table:\n%s", md.String())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" for none
	}{
		{"default", func(*Config) {}, ""},
		{"quick", func(c *Config) { *c = Quick() }, ""},
		{"no reps", func(c *Config) { c.Reps = 0 }, "reps 0"},
		{"negative small reps", func(c *Config) { c.SmallReps = -1 }, "small reps -1"},
		{"rpm over the handler's bound", func(c *Config) { c.PaceRPM = 60_000 }, "pacing rpm 60000"},
		{"window too short for one call", func(c *Config) { c.PaceRPM, c.PaceWindow = 30, time.Second }, "allow no call"},
		{"pacing skipped ignores its rpm", func(c *Config) { c.PaceBacklog, c.PaceRPM = 0, 0 }, ""},
		{"zero size", func(c *Config) { c.CostSizes = []int{10, 0} }, "cost size 0"},
		{"cost rpm", func(c *Config) { c.CostRPM = 0 }, "cost rpm 0"},
		{"no window, pacing off, scan on", func(c *Config) { c.PaceBacklog, c.PaceWindow = 0, 0 }, "pacing window 0s"},
		{"window too short for one scan call", func(c *Config) { c.PaceBacklog, c.ScanRPM, c.PaceWindow = 0, 5, time.Second }, "scan: 5 calls a minute"},
		{"no window, nothing paced", func(c *Config) { c.PaceBacklog, c.PaceWindow, c.ScanPages = 0, 0, nil }, ""},
		{"handler environment", func(c *Config) { c.HandlerEnv = []string{"GOMAXPROCS=2", "GOGC"} }, `handler environment "GOGC"`},
		{"handler build tags", func(c *Config) { c.HandlerTags = []string{"notimerslack"} }, ""},
		{"handler build tag with a space", func(c *Config) { c.HandlerTags = []string{"notimerslack", "a b"} }, `handler build tag "a b"`},
		{"empty handler build tag", func(c *Config) { c.HandlerTags = []string{""} }, `handler build tag ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.modify(&c)
			err := c.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCostReps(t *testing.T) {
	def, quick := Default(), Quick()
	for _, tc := range []struct {
		cfg  Config
		n    int
		want int
	}{
		{def, 10_000, 9},
		{def, 99_999, 9},
		{def, 100_000, 3},
		{def, 1_000_000, 3},
		{quick, 2_000, 1},
		{Config{Reps: 5}, 10_000, 5}, // SmallReps 0: as Reps
	} {
		if got := tc.cfg.CostReps(tc.n); got != tc.want {
			t.Errorf("CostReps(%d) with Reps %d, SmallReps %d = %d, want %d", tc.n, tc.cfg.Reps, tc.cfg.SmallReps, got, tc.want)
		}
	}
}

func TestSimLimitAndCeiling(t *testing.T) {
	for _, tc := range []struct {
		rpm, limit int
		window     time.Duration
		page       int
		wantLimit  int
		wantCeil   float64
	}{
		{600, 0, 6 * time.Second, 100, 60, 1000},
		{1200, 0, 6 * time.Second, 100, 120, 2000},
		{30, 0, time.Minute, 100, 30, 50},
		{1200, 44, 2 * time.Second, 100, 44, 2000},
		{60, 0, 6 * time.Second, 5000, 6, 5000},
	} {
		c := Config{PaceRPM: tc.rpm, PaceWindow: tc.window, PaceSimLimit: tc.limit}
		if got := c.simLimit(); got != tc.wantLimit {
			t.Errorf("%d/min over %s (limit %d): simLimit = %d, want %d", tc.rpm, tc.window, tc.limit, got, tc.wantLimit)
		}
		if got := ceiling(tc.rpm, tc.page); got != tc.wantCeil {
			t.Errorf("%d/min at %d a call: ceiling = %v, want %v", tc.rpm, tc.page, got, tc.wantCeil)
		}
	}
}

func TestMeanUsage(t *testing.T) {
	a := usage{CPU: 10 * time.Second, User: 9 * time.Second, System: time.Second, MaxRSS: 15e6, Wall: 11 * time.Second}
	b := usage{CPU: 12 * time.Second, User: 10 * time.Second, System: 2 * time.Second, MaxRSS: 14e6, Wall: 13 * time.Second}
	want := usage{CPU: 11 * time.Second, User: 9500 * time.Millisecond, System: 1500 * time.Millisecond, MaxRSS: 15e6, Wall: 12 * time.Second}
	if diff := cmp.Diff(want, meanUsage(a, b)); diff != "" {
		t.Errorf("meanUsage (-want +got):\n%s", diff)
	}
}

// Both programs start with the same bare environment: the bench's own
// runtime settings reach neither.
func TestBareEnv(t *testing.T) {
	t.Setenv("PATH", "/bin")
	t.Setenv("HOME", "/home/b")
	t.Setenv("GOGC", "400")
	t.Setenv("GODEBUG", "schedtrace=1000")
	t.Setenv("GOMAXPROCS", "2")
	want := []string{"PATH=/bin", "HOME=/home/b", "MCAS_SCAN_MODE=true"}
	if diff := cmp.Diff(want, bareEnv("MCAS_SCAN_MODE=true")); diff != "" {
		t.Errorf("bareEnv (-want +got):\n%s", diff)
	}
}

func TestErrNoSteadyStateWraps(t *testing.T) {
	_, err := steadyState(nil, 100)
	if !errors.Is(err, errNoSteadyState) {
		t.Errorf("steadyState(nil) = %v, want errNoSteadyState", err)
	}
}
