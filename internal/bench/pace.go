package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/pipeline"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// PaceRep is one pacing run: the handler draining a backlog against a
// tenant that answers 429 beyond its limit, in list mode (100 activities a
// call) or in scan mode (PageSize a call).
type PaceRep struct {
	Backlog  int
	Scan     bool          // MCAS_SCAN_MODE
	PageSize int           // activities a full call returns: 100 in list mode, the tenant's scan page in scan mode
	RPM      int           // the connector's MCAS_REQUESTS_PER_MINUTE
	Limit    int           // the tenant's limit per Window
	Window   time.Duration // the tenant's sliding window
	Ceiling  float64       // activities a second at RPM full pages
	Steady   Steady
	Overall  float64 // activities a second from the first call to the last
	Calls    int     // requests the tenant received, throttled ones included
	Throttle int     // requests it answered 429
	// MaxInWindow is the most requests it received within any Window.
	MaxInWindow int
	Delivery    Delivery
	Handler     drained
}

// paceSpec is what a pacing run drains and how.
type paceSpec struct {
	backlog, rpm, limit int
	window              time.Duration
	scanPage            int // 0: list mode
}

// Ratio is the steady-state rate as a share of the ceiling.
func (p PaceRep) Ratio() float64 { return p.Steady.Rate / p.Ceiling }

// Steady is the rate over the steady state of a backlog.
type Steady struct {
	Calls int           // answered calls measured over
	Rows  int           // activities they returned
	Span  time.Duration // from the first measured call to the last
	Rate  float64       // Rows / Span, activities a second
	// GapP50, GapP90 and GapMax describe the time between consecutive
	// measured calls: above the connector's call interval means the loop,
	// not the pacer, held the next call back.
	GapP50, GapP90, GapMax time.Duration
}

// steadyState measures the rate at which the tenant served activities while
// the backlog was full: over the answered list calls from the end of the
// first tenth of them (the process start, the first token, the lease and the
// first TLS handshakes are behind by then) to the last that returned a full
// page (at least full activities), which leaves out the drained tail.
// Throttled calls take time but return nothing.
func steadyState(calls []mcasapi.Call, full int) (Steady, error) {
	var served []mcasapi.Call
	for _, c := range calls {
		if c.Path == mcasapi.ListPath && c.Status == http.StatusOK {
			served = append(served, c)
		}
	}
	slices.SortStableFunc(served, func(a, b mcasapi.Call) int { return a.Time.Compare(b.Time) })
	last := -1
	for i, c := range served {
		if c.Rows >= full {
			last = i
		}
	}
	first := max(len(served)/10, 1)
	if last-first < 2 {
		return Steady{}, fmt.Errorf("%w (%d full pages)", errNoSteadyState, last+1)
	}
	s := Steady{Calls: last - first, Span: served[last].Time.Sub(served[first].Time)}
	for _, c := range served[first+1 : last+1] {
		s.Rows += c.Rows
	}
	if s.Span <= 0 {
		return s, fmt.Errorf("%w (no time passed)", errNoSteadyState)
	}
	s.Rate = float64(s.Rows) / s.Span.Seconds()
	gaps := make([]time.Duration, 0, last-first)
	for i := first + 1; i <= last; i++ {
		gaps = append(gaps, served[i].Time.Sub(served[i-1].Time))
	}
	slices.Sort(gaps)
	s.GapP50, s.GapP90, s.GapMax = gaps[len(gaps)/2], gaps[len(gaps)*9/10], gaps[len(gaps)-1]
	return s, nil
}

// overallRate is the activities served a second from the first list call to the last.
func overallRate(calls []mcasapi.Call) float64 {
	var first, last time.Time
	rows := 0
	for _, c := range calls {
		if c.Path != mcasapi.ListPath {
			continue
		}
		if first.IsZero() || c.Time.Before(first) {
			first = c.Time
		}
		if c.Time.After(last) {
			last = c.Time
		}
		rows += c.Rows
	}
	if d := last.Sub(first); d > 0 {
		return float64(rows) / d.Seconds()
	}
	return 0
}

// pace runs repetition i of the pacing measurement.
func (r *runner) pace(ctx context.Context, i int) (PaceRep, error) {
	c := &r.cfg
	r.logf("pacing %d/%d", i+1, c.Reps)
	return r.paced(ctx, paceSpec{backlog: c.PaceBacklog, rpm: c.PaceRPM, limit: c.simLimit(), window: c.PaceWindow})
}

// scanRun runs repetition i of the scan comparison at scanPage activities a
// call (0: the list-mode reference at the same call rate).
func (r *runner) scanRun(ctx context.Context, scanPage, i int) (PaceRep, error) {
	c := &r.cfg
	page := cmp.Or(scanPage, mcas.MaxPageSize)
	r.logf("scan comparison %d/%d: %s", i+1, c.Reps, modeName(scanPage != 0, page))
	return r.paced(ctx, paceSpec{backlog: page * c.ScanCalls, rpm: c.ScanRPM, limit: c.scanLimit(), window: c.PaceWindow, scanPage: scanPage})
}

func modeName(scan bool, page int) string {
	if scan {
		return fmt.Sprintf("scan mode, %d a call", page)
	}
	return fmt.Sprintf("list mode, %d a call", page)
}

// paced has the handler drain sp's backlog against a tenant limited to
// sp.limit calls per sp.window, and measures its steady rate.
func (r *runner) paced(ctx context.Context, sp paceSpec) (PaceRep, error) {
	p := PaceRep{Backlog: sp.backlog, Scan: sp.scanPage != 0, PageSize: cmp.Or(sp.scanPage, mcas.MaxPageSize), RPM: sp.rpm, Limit: sp.limit, Window: sp.window}
	p.Ceiling = ceiling(p.RPM, p.PageSize)
	st, env, err := r.newStack(ctx, mcasapi.Options{RequestsPerMinute: p.Limit, Window: p.Window, MaxScanPage: sp.scanPage}, p.Backlog, p.RPM)
	if err != nil {
		return p, err
	}
	defer closeStack(st)
	// A scan page holds back the rows that share its last date for the
	// next one, so a full scan page may fall a little short of its size.
	full := p.PageSize
	if p.Scan {
		env = append(env, "MCAS_SCAN_MODE=true")
		full = p.PageSize * 9 / 10
	}
	name := modeName(p.Scan, p.PageSize)
	r.logf("  %s: %d activities at %d calls/min against %d per %s (ceiling %.0f activities/s)",
		name, p.Backlog, p.RPM, p.Limit, p.Window, p.Ceiling)
	if p.Handler, err = r.drain(ctx, env); err != nil {
		return p, err
	}
	calls := st.Sim.Calls()
	p.Calls = len(calls)
	p.Throttle = st.Sim.Throttled()
	p.MaxInWindow = st.Sim.MaxCallsInWindow(p.Window)
	p.Overall = overallRate(calls)
	if p.Steady, err = steadyState(calls, full); err != nil {
		return p, err
	}
	if p.Delivery, err = checkDelivery(st); err != nil {
		return p, err
	}
	r.logf("  %s: %.0f activities/s steady = %.3f of the ceiling; %d throttled; at most %d calls in %s (limit %d); gaps between calls p50 %s p90 %s max %s (interval %s); handler %.2f CPU-s/100k, %.1f MB peak; %s",
		name, p.Steady.Rate, p.Ratio(), p.Throttle, p.MaxInWindow, p.Window, p.Limit,
		p.Steady.GapP50.Round(time.Millisecond/10), p.Steady.GapP90.Round(time.Millisecond/10), p.Steady.GapMax.Round(time.Millisecond/10),
		pipeline.Interval(p.RPM).Round(time.Millisecond/10), per100k(p.Handler.Usage.CPU, p.Backlog).Seconds(), mb(p.Handler.Usage.MaxRSS), p.Delivery)
	return p, nil
}
