package pipeline

import "context"

// ahead is an API call started before its answer is needed: while the
// pipeline turns one page into rows, the next page is already being paced,
// requested and read. Without it the process idles at every page's round
// trip, and each wake from idle costs the Go runtime more than the read
// itself. At most one call is ahead at a time, so memory holds two pages.
type ahead[Q, P any] struct {
	q      Q
	cancel context.CancelFunc
	done   chan struct{}
	page   P
	err    error
}

// fetchAhead starts fetch(ctx, q) in the background.
func fetchAhead[Q, P any](ctx context.Context, q Q, fetch func(context.Context, Q) (P, error)) *ahead[Q, P] {
	ctx, cancel := context.WithCancel(ctx)
	a := &ahead[Q, P]{q: q, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.page, a.err = fetch(ctx, q)
	}()
	return a
}

// wait returns the call's answer.
func (a *ahead[Q, P]) wait() (P, error) {
	<-a.done
	a.cancel()
	return a.page, a.err
}

// abandon cancels the call and waits for it to return, so that no call
// outlives the run that made it. Nil is a no-op.
func (a *ahead[Q, P]) abandon() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}
