package bench

import (
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
// tenant that answers 429 beyond its limit.
type PaceRep struct {
	Backlog  int
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
// page, which leaves out the drained tail. Throttled calls take time but
// return nothing.
func steadyState(calls []mcasapi.Call, pageSize int) (Steady, error) {
	var served []mcasapi.Call
	for _, c := range calls {
		if c.Path == mcasapi.ListPath && c.Status == http.StatusOK {
			served = append(served, c)
		}
	}
	slices.SortStableFunc(served, func(a, b mcasapi.Call) int { return a.Time.Compare(b.Time) })
	last := -1
	for i, c := range served {
		if c.Rows >= pageSize {
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
	p := PaceRep{Backlog: c.PaceBacklog, RPM: c.PaceRPM, Limit: c.simLimit(), Window: c.PaceWindow, Ceiling: c.ceiling()}
	st, env, err := r.newStack(ctx, mcasapi.Options{RequestsPerMinute: p.Limit, Window: p.Window}, p.Backlog, p.RPM)
	if err != nil {
		return p, err
	}
	defer closeStack(st)
	r.logf("pacing %d/%d: %d activities at %d calls/min against %d per %s (ceiling %.0f activities/s)",
		i+1, c.Reps, p.Backlog, p.RPM, p.Limit, p.Window, p.Ceiling)
	if p.Handler, err = r.drain(ctx, env); err != nil {
		return p, err
	}
	calls := st.Sim.Calls()
	p.Calls = len(calls)
	p.Throttle = st.Sim.Throttled()
	p.MaxInWindow = st.Sim.MaxCallsInWindow(p.Window)
	p.Overall = overallRate(calls)
	if p.Steady, err = steadyState(calls, mcas.MaxPageSize); err != nil {
		return p, err
	}
	if p.Delivery, err = checkDelivery(st); err != nil {
		return p, err
	}
	r.logf("pacing %d/%d: %.0f activities/s steady = %.3f of the ceiling; %d throttled; at most %d calls in %s (limit %d); gaps between calls p50 %s p90 %s max %s (interval %s); %s",
		i+1, c.Reps, p.Steady.Rate, p.Ratio(), p.Throttle, p.MaxInWindow, p.Window, p.Limit,
		p.Steady.GapP50.Round(time.Millisecond/10), p.Steady.GapP90.Round(time.Millisecond/10), p.Steady.GapMax.Round(time.Millisecond/10),
		pipeline.Interval(p.RPM).Round(time.Millisecond/10), p.Delivery)
	return p, nil
}
