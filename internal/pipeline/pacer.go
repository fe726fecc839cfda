package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
)

// pacer spaces one run's API calls: the process-wide limiter spaces calls
// within this process, notBefore carries the spacing over from the previous
// holder of the lease, each call is spaced from the previous one's
// departure (which a new connection delays past its grant), and the lease
// holds a successor (should this run die) off until one interval after
// every call.
type pacer struct {
	limiter   *rate.Limiter
	notBefore time.Time
	lease     *checkpoint.Lease
	interval  time.Duration

	mu       sync.Mutex
	lastCall time.Time // the last call's grant, or its departure when later
	// throttledUntil is when the wait after the last 429 (Retry-After)
	// ends: the next holder of the lease makes no call before it.
	throttledUntil time.Time
}

// Wait implements mcas.Pacer.
func (p *pacer) Wait(ctx context.Context) error {
	if err := waitUntil(ctx, p.notBefore); err != nil {
		return err
	}
	p.mu.Lock()
	last := p.lastCall
	p.mu.Unlock()
	if !last.IsZero() {
		if err := waitUntil(ctx, last.Add(p.interval)); err != nil {
			return err
		}
	}
	r := p.limiter.Reserve()
	if err := waitUntil(ctx, time.Now().Add(r.Delay())); err != nil {
		r.Cancel()
		return err
	}
	// A successor that takes the lease over after this run died waits for
	// its expiry and for its NextCallNotBefore: one of them must fall one
	// interval (and a second, for the call's way out) after this call.
	if until := time.Now().Add(p.interval + time.Second); p.lease.Expires().Before(until) {
		if err := p.lease.HoldOff(ctx, time.Now(), until); err != nil {
			r.Cancel()
			return fmt.Errorf("renew the lease before calling the API: %w", err)
		}
	}
	p.mu.Lock()
	p.lastCall = time.Now()
	p.mu.Unlock()
	return nil
}

// Sent implements mcas.Pacer.
func (p *pacer) Sent(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at.After(p.lastCall) {
		p.lastCall = at
	}
}

// Throttled implements mcas.Pacer.
func (p *pacer) Throttled(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.throttledUntil) {
		p.throttledUntil = until
	}
}

// nextAllowed is the earliest time the next holder may call the API.
func (p *pacer) nextAllowed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.notBefore
	if !p.lastCall.IsZero() {
		next = p.lastCall.Add(p.interval)
	}
	if p.throttledUntil.After(next) {
		next = p.throttledUntil
	}
	return next
}

// waitUntil sleeps until t, unless ctx ends or its deadline comes first.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		return fmt.Errorf("%w: the next API slot is at %s", mcas.ErrDeadline, t.UTC().Format(time.RFC3339Nano))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
