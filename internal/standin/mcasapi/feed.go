package mcasapi

import (
	"context"
	"slices"
	"time"
)

// backfillChunk bounds the activities generated before they are stored, so a
// million-activity backfill does not hold a second copy.
const backfillChunk = 16384

// Backfill adds n activities from gen whose created times are spread at
// random over [from, to), as a steady stream of activity would leave them.
func (s *Sim) Backfill(gen *Generator, from, to time.Time, n int) {
	lo, span := from.UnixMilli(), to.UnixMilli()-from.UnixMilli()
	if n <= 0 || span <= 0 {
		return
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	created := make([]int64, n)
	for i := range created {
		created[i] = lo + gen.rng.Int64N(span)
	}
	slices.Sort(created) // generated in order: the store's sort then has nothing to do
	for start := 0; start < n; start += backfillChunk {
		end := min(start+backfillChunk, n)
		batch := make([]Activity, 0, end-start)
		for _, c := range created[start:end] {
			batch = append(batch, gen.next(c, gen.maxDelay))
		}
		s.Add(batch...)
	}
}

// AddTies adds n activities from gen that all share one created millisecond,
// and returns them.
func (s *Sim) AddTies(gen *Generator, created time.Time, n int) []Activity {
	gen.mu.Lock()
	batch := make([]Activity, n)
	for i := range batch {
		batch[i] = gen.next(created.UnixMilli(), gen.maxDelay)
	}
	gen.mu.Unlock()
	s.Add(batch...) // completes batch in place
	return slices.Clone(batch)
}

// Live adds activities from the sim's generator at perSecond (of the sim's
// clock) with created = now, each visible after a random delay of up to
// maxVisibilityDelay, until ctx is done. Run it in its own goroutine.
func (s *Sim) Live(ctx context.Context, perSecond float64, maxVisibilityDelay time.Duration) {
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	prev := s.now()
	acc := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		elapsed := now.Sub(prev)
		if elapsed <= 0 {
			continue
		}
		acc += perSecond * elapsed.Seconds()
		n := int(acc)
		acc -= float64(n)
		if n == 0 {
			prev = now
			continue
		}
		// Spread the batch over the tick so created times rarely collide
		// and never lie in the future.
		g := s.gen
		g.mu.Lock()
		lo, span := prev.UnixMilli()+1, now.UnixMilli()-prev.UnixMilli()
		batch := make([]Activity, n)
		for i := range batch {
			c := now.UnixMilli()
			if span > 0 {
				c = lo + g.rng.Int64N(span)
			}
			batch[i] = g.next(c, maxVisibilityDelay)
		}
		g.mu.Unlock()
		s.Add(batch...)
		prev = now
	}
}
