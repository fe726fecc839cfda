package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
)

// progress prints a line every few seconds while an invocation forwards
// activities: how many, how fast, and how far behind now the newest is.
type progress struct {
	out    io.Writer
	ingest *localstack.Stack
	start  time.Time

	mu        sync.Mutex
	running   bool
	baseCount int
	began     time.Time
	seen      int       // rows already inspected
	newest    time.Time // latest CreatedTime forwarded
}

func (p *progress) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running, p.began, p.baseCount = true, time.Now(), len(forwarded(p.ingest))
}

func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = false
}

// run prints progress until the returned stop is called.
func (p *progress) run(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		last := -1
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.tick(&last)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (p *progress) tick(last *int) {
	rows := forwarded(p.ingest)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, raw := range rows[p.seen:] {
		var r struct{ CreatedTime time.Time }
		if json.Unmarshal(raw, &r) == nil && r.CreatedTime.After(p.newest) {
			p.newest = r.CreatedTime
		}
	}
	p.seen = len(rows)
	if !p.running || len(rows) == *last {
		return
	}
	*last = len(rows)
	n := len(rows) - p.baseCount
	rate := float64(n) / time.Since(p.began).Seconds()
	behind := "-"
	if !p.newest.IsZero() {
		behind = time.Since(p.newest).Round(time.Second).String()
	}
	fmt.Fprintf(p.out, "    … %d activities forwarded in this invocation (%.0f/s), %d in all; newest is %s behind now\n", n, rate, len(rows), behind)
}
