package pipeline

import (
	"context"
	"sync"
	"time"
)

// stopSignal tells a run when to stop reading: when its budget runs out, or
// earlier when its context ends (the worker is shutting down, the host gave
// up on the request, or the lease was lost). A stopped run reads nothing
// more, finishes one upload at most (see sender) and saves.
type stopSignal struct {
	ctx      context.Context // ends at the deadline or before
	deadline time.Time

	mu    sync.Mutex
	ended time.Time // when ctx was first seen ended
}

func newStopSignal(ctx context.Context, deadline time.Time) *stopSignal {
	s := &stopSignal{ctx: ctx, deadline: deadline}
	context.AfterFunc(ctx, func() { s.at() })
	return s
}

// stopped reports whether the run must stop reading.
func (s *stopSignal) stopped() bool {
	return s.ctx.Err() != nil || !time.Now().Before(s.deadline)
}

// at is when the run was told to stop, or is due to: when its context
// ended, if that came before the deadline, else the deadline. The end is
// when it was first seen, by at itself or by the AfterFunc that calls it.
func (s *stopSignal) at() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.IsZero() && s.ctx.Err() != nil {
		s.ended = time.Now()
	}
	if !s.ended.IsZero() && s.ended.Before(s.deadline) {
		return s.ended
	}
	return s.deadline
}

// interrupted reports whether the run was told to stop before its budget ran out.
func (s *stopSignal) interrupted() bool {
	return s.ctx.Err() != nil && s.at().Before(s.deadline)
}
