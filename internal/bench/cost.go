package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench/baseline"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// CostSize is the cost runs at one backlog size.
type CostSize struct {
	Backlog int
	Reps    []CostRep
}

// CostRep is one cost run: the baseline program on the backlog's pages, the
// handler draining the backlog, then the baseline again. The two baseline
// runs frame the handler's, so that a drift of the machine's speed during
// the run weighs on both sides of the ratio alike.
type CostRep struct {
	Handler drained
	// Baseline is the mean of BaselineRuns (CPU times averaged, the higher
	// peak RSS).
	Baseline     usage
	BaselineRuns [2]usage
	// BenchPeakRSS is the bench process's own peak RSS during the handler's
	// run (the simulated tenant and the stand-ins live there); 0 when the
	// kernel cannot reset the peak.
	BenchPeakRSS int64
	Delivery     Delivery
}

// meanUsage averages a and b's CPU times and wall time, and keeps the higher
// peak RSS.
func meanUsage(a, b usage) usage {
	return usage{
		CPU:    (a.CPU + b.CPU) / 2,
		User:   (a.User + b.User) / 2,
		System: (a.System + b.System) / 2,
		MaxRSS: max(a.MaxRSS, b.MaxRSS),
		Wall:   (a.Wall + b.Wall) / 2,
	}
}

// per100k scales a CPU time for n activities to 100,000.
func per100k(d time.Duration, n int) time.Duration {
	return time.Duration(float64(d) * 100_000 / float64(n))
}

// cost runs repetition i of the cost measurement at n activities.
func (r *runner) cost(ctx context.Context, n, i int) (CostRep, error) {
	var c CostRep
	st, env, err := r.newStack(ctx, mcasapi.Options{}, n, r.cfg.CostRPM)
	if err != nil {
		return c, err
	}
	defer func() {
		if st != nil {
			closeStack(st)
		}
	}()
	acts := st.Sim.Activities()
	profile := ""
	if r.cfg.ProfileDir != "" && i == 0 {
		profile = filepath.Join(r.cfg.ProfileDir, fmt.Sprintf("baseline-%d.pprof", n))
	}
	r.logf("cost %d activities %d/%d: baseline on the backlog's pages", n, i+1, r.cfg.CostReps(n))
	if c.BaselineRuns[0], err = r.runBaseline(ctx, acts, profile); err != nil {
		return c, err
	}

	r.logf("cost %d activities %d/%d: handler at %d calls/min, no rate limit", n, i+1, r.cfg.CostReps(n), r.cfg.CostRPM)
	resetPeakRSS()
	if c.Handler, err = r.drain(ctx, env); err != nil {
		return c, err
	}
	c.BenchPeakRSS = selfPeakRSS()
	if c.Delivery, err = checkDelivery(st); err != nil {
		return c, err
	}
	closeStack(st)
	st = nil

	r.logf("cost %d activities %d/%d: baseline again", n, i+1, r.cfg.CostReps(n))
	if c.BaselineRuns[1], err = r.runBaseline(ctx, acts, ""); err != nil {
		return c, err
	}
	c.Baseline = meanUsage(c.BaselineRuns[0], c.BaselineRuns[1])
	h, b := c.Handler.Usage, c.Baseline
	r.logf("cost %d activities %d/%d: handler %.2f CPU-s/100k (%.0f%% system), %.1f MB peak; baseline %.2f CPU-s/100k (%.2f before, %.2f after; %.0f%% system), %.1f MB peak; ratio %.2f; %s",
		n, i+1, r.cfg.CostReps(n), per100k(h.CPU, n).Seconds(), 100*h.System.Seconds()/h.CPU.Seconds(), mb(h.MaxRSS),
		per100k(b.CPU, n).Seconds(), per100k(c.BaselineRuns[0].CPU, n).Seconds(), per100k(c.BaselineRuns[1].CPU, n).Seconds(),
		100*b.System.Seconds()/b.CPU.Seconds(), mb(b.MaxRSS), h.CPU.Seconds()/b.CPU.Seconds(), c.Delivery)
	return c, nil
}

// runBaseline pipes acts, as the API's pages, through the baseline program
// and returns its usage.
func (r *runner) runBaseline(ctx context.Context, acts []mcasapi.Activity, profile string) (usage, error) {
	var args []string
	if profile != "" {
		if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
			return usage{}, err
		}
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.CommandContext(ctx, r.bins.baseline, args...)
	cmd.Env = bareEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return usage{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return usage{}, fmt.Errorf("start the baseline: %w", err)
	}
	werr := WritePages(stdin, acts, mcas.MaxPageSize)
	if cerr := stdin.Close(); werr == nil {
		werr = cerr
	}
	err = cmd.Wait()
	wall := time.Since(start)
	if err != nil || werr != nil {
		return usage{}, fmt.Errorf("baseline: %w\n%s", errors.Join(err, werr), stderr.Bytes())
	}
	var res baseline.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return usage{}, fmt.Errorf("baseline printed %q: %w", stdout.Bytes(), err)
	}
	if res.Activities != len(acts) {
		return usage{}, fmt.Errorf("baseline processed %d activities of %d", res.Activities, len(acts))
	}
	return usageOf(cmd.ProcessState, wall, res.PeakRSS)
}

// resetPeakRSS resets this process's VmHWM (Linux 4.0 and later); without
// it selfPeakRSS reports the peak since the process started.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// selfPeakRSS is this process's VmHWM, in bytes; 0 when unknown.
func selfPeakRSS() int64 {
	return procStatusKB("/proc/self/status", "VmHWM:") * 1024
}

// procStatusKB reads one "Name: N kB" line of a /proc status-like file.
func procStatusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// mb is bytes in MB (10^6), as the targets are stated.
func mb(b int64) float64 { return float64(b) / 1e6 }
