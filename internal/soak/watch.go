package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/timerhost"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// watch follows the host's events, kills the handler, samples the lag and
// prints progress. Its fields after mu are guarded by mu.
type watch struct {
	stack  *localstack.Stack
	opts   Options
	stream string     // the activity stream
	rng    *rand.Rand // used by the kill loop only

	outMu sync.Mutex

	mu       sync.Mutex
	pid      int                   // the ready handler, 0 while none
	pidFrom  map[int]int           // len(Uploads()) when each handler became ready
	exited   map[int]chan struct{} // closed when that handler is gone
	inv      string                // the invocation in flight, "" when none
	invFrom  int                   // len(Uploads()) when it started
	killedAt []time.Time
	kills    []kill
	outcomes invocations
	lastRun  time.Duration // the last successful invocation that was not skipped
	starts   int
	timeouts int
	leaks    int
	newest   time.Time      // latest CreatedTime forwarded, or the traffic's start
	seen     int            // activity rows inspected
	copies   map[string]int // ActivityId: rows seen so far
	maxLag   time.Duration
}

// kill is one SIGKILL and the uploads the killed handler made.
type kill struct {
	At          time.Time
	PID         int
	MidRun      bool // an invocation was in flight
	AfterUpload bool // aimed just after an accepted upload, before the checkpoint save
	// From and To bound the killed handler's uploads: indexes into
	// Ingestion.Uploads(), every stream.
	From, To int
}

// invocations counts outcomes as the host saw them.
type invocations struct {
	OK, Skipped, FailedByKill, Failed int
	Failures                          []string // the first few failures not caused by a kill
}

func newWatch(stack *localstack.Stack, opts Options) *watch {
	return &watch{
		stack:   stack,
		opts:    opts,
		stream:  schema.Activity().Stream,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x2545f4914f6cdd1d)),
		pidFrom: map[int]int{},
		exited:  map[int]chan struct{}{},
		copies:  map[string]int{},
	}
}

func (w *watch) printf(format string, args ...any) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	fmt.Fprintf(w.opts.Out, format, args...)
}

func (w *watch) uploads() int { return len(w.stack.Ingestion.Uploads()) }

// event is the host's OnEvent: called in order from one goroutine.
func (w *watch) event(e timerhost.Event) {
	switch e := e.(type) {
	case timerhost.HandlerStarted:
		from := w.uploads()
		w.mu.Lock()
		w.pid, w.pidFrom[e.PID], w.exited[e.PID] = e.PID, from, make(chan struct{})
		w.starts++
		w.mu.Unlock()
		if w.opts.Verbose {
			w.printf("%s handler started (pid %d)\n", stamp(e.Time), e.PID)
		}
	case timerhost.HandlerExited:
		w.mu.Lock()
		if w.pid == e.PID {
			w.pid = 0
		}
		if ch, ok := w.exited[e.PID]; ok {
			close(ch)
			delete(w.exited, e.PID)
		}
		w.mu.Unlock()
		if w.opts.Verbose {
			w.printf("%s %s\n", stamp(e.Time), e)
		}
	case timerhost.InvocationStarted:
		from := w.uploads()
		w.mu.Lock()
		w.inv, w.invFrom = e.ID, from
		w.mu.Unlock()
	case timerhost.InvocationFinished:
		w.finished(e)
	case timerhost.Timeout:
		w.mu.Lock()
		w.timeouts++
		w.mu.Unlock()
		w.printf("%s %s\n", stamp(e.Time), e)
	case timerhost.Output:
		w.checkLeak(e.Line)
		if w.opts.Verbose && e.Stream == timerhost.Stderr {
			w.printf("    handler %d stderr: %s\n", e.PID, e.Line)
		}
	}
}

func (w *watch) finished(e timerhost.InvocationFinished) {
	for _, l := range e.Logs {
		w.checkLeak(l)
	}
	if e.Err != nil {
		w.checkLeak(e.Err.Error())
	}
	summary := strings.Join(e.Logs, " | ")
	began := e.Time.Add(-e.Duration)
	w.mu.Lock()
	if w.inv == e.ID {
		w.inv = ""
	}
	switch {
	case e.Err == nil && strings.Contains(summary, "skipped:"):
		w.outcomes.Skipped++
	case e.Err == nil:
		w.outcomes.OK++
		w.lastRun = e.Duration
	case w.killedBetween(began, e.Time),
		// Sent to a handler just killed, before the host noticed: refused.
		e.Status == 0 && w.killedBetween(began.Add(-2*time.Second), e.Time):
		w.outcomes.FailedByKill++
	default:
		w.outcomes.Failed++
		if len(w.outcomes.Failures) < 5 {
			w.outcomes.Failures = append(w.outcomes.Failures, fmt.Sprintf("%s: %v", stamp(e.Time), e.Err))
		}
	}
	w.mu.Unlock()
	switch {
	case e.Err != nil:
		w.printf("%s invocation %s failed after %s: %v\n", stamp(e.Time), short(e.ID), e.Duration.Round(time.Millisecond), e.Err)
	case w.opts.Verbose:
		w.printf("%s invocation %s done in %s: %s\n", stamp(e.Time), short(e.ID), e.Duration.Round(time.Millisecond), summary)
	}
}

// killedBetween reports whether a kill fell within [from, to]; w.mu is held.
func (w *watch) killedBetween(from, to time.Time) bool {
	for _, t := range w.killedAt {
		if !t.Before(from) && !t.After(to) {
			return true
		}
	}
	return false
}

// checkLeak counts output that carries the API token (SPEC promise 6).
func (w *watch) checkLeak(s string) {
	if strings.Contains(s, w.stack.Token) {
		w.mu.Lock()
		w.leaks++
		w.mu.Unlock()
	}
}

// killLoop SIGKILLs the handler at random, on average every KillEvery,
// until ctx ends; no kill is aimed after until. Half the kills aim just after an upload
// was accepted, before the checkpoint is saved (the case that re-sends rows);
// the others fall anywhere within the length of the last invocation that
// did some work, from the start of one.
func (w *watch) killLoop(ctx context.Context, until time.Time) {
	for {
		wait := time.Duration((0.5 + w.rng.Float64()) * float64(w.opts.KillEvery))
		if !sleepCtx(ctx, wait) || time.Now().After(until) {
			return
		}
		afterUpload := w.rng.IntN(2) == 0
		w.mu.Lock()
		typical := max(w.lastRun, 50*time.Millisecond)
		w.mu.Unlock()
		delay := time.Duration(w.rng.Int64N(int64(typical)))
		if afterUpload {
			// Saving the checkpoint after an upload takes milliseconds.
			delay = time.Duration(w.rng.Int64N(int64(3 * time.Millisecond)))
		}
		if !w.awaitMoment(ctx, afterUpload) || !sleepCtx(ctx, delay) {
			return
		}
		w.kill(afterUpload)
	}
}

// awaitMoment waits for an invocation in flight and, with afterUpload, for
// it to have an upload accepted; an invocation that ends without one is
// passed over. False when ctx ended.
func (w *watch) awaitMoment(ctx context.Context, afterUpload bool) bool {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		w.mu.Lock()
		inv, from := w.inv, w.invFrom
		w.mu.Unlock()
		if inv == "" {
			continue
		}
		if !afterUpload {
			return true
		}
		ups := w.stack.Ingestion.Uploads()
		for _, u := range ups[min(from, len(ups)):] {
			if u.Stream == w.stream {
				return true
			}
		}
	}
}

// kill SIGKILLs the current handler and records which uploads it made. The
// host restarts it after its RestartDelay.
func (w *watch) kill(afterUpload bool) {
	w.mu.Lock()
	pid := w.pid
	if pid == 0 {
		w.mu.Unlock()
		return
	}
	k := kill{At: time.Now(), PID: pid, MidRun: w.inv != "", AfterUpload: afterUpload, From: w.pidFrom[pid]}
	w.killedAt = append(w.killedAt, k.At)
	exited := w.exited[pid]
	w.mu.Unlock()

	// Only the handler's own pid, which the host started and reaps.
	if err := sigkill(pid); err != nil {
		w.printf("%s soak: kill %d: %v\n", stamp(time.Now()), pid, err)
		return
	}
	if exited != nil {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	// An upload whose body had fully arrived is still stored after the
	// client is gone: wait until the service has none in hand (the host
	// restarts the handler after 1 s, so this rarely waits for a new one).
	settle, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = w.stack.Ingestion.Settle(settle, 100*time.Millisecond) // still busy: count what there is
	cancel()
	k.To = w.uploads()
	w.mu.Lock()
	w.kills = append(w.kills, k)
	w.mu.Unlock()
	where := "between invocations"
	if k.MidRun {
		where = "mid-run"
		if afterUpload {
			where = "just after an accepted upload"
		}
	}
	w.printf("%s soak: SIGKILL handler %d %s\n", stamp(k.At), pid, where)
}

// sigkill kills pid at once (SIGKILL on Unix).
func sigkill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return p.Kill()
}

// behindSince makes the lag count from t until the first activity is
// forwarded: a connector that forwards nothing falls ever further behind.
func (w *watch) behindSince(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.newest.IsZero() {
		w.newest = t
	}
}

// sampleLag records, every second until ctx ends, how far the newest
// forwarded activity's created time is behind now.
func (w *watch) sampleLag(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.sampleOnce(time.Now())
	}
}

func (w *watch) sampleOnce(now time.Time) {
	rows := w.stack.Ingestion.Rows(w.stream)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, raw := range rows[min(w.seen, len(rows)):] {
		var r struct {
			ActivityId  string
			CreatedTime time.Time
		}
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		w.copies[r.ActivityId]++
		if r.CreatedTime.After(w.newest) {
			w.newest = r.CreatedTime
		}
	}
	w.seen = len(rows)
	if !w.newest.IsZero() {
		w.maxLag = max(w.maxLag, now.Sub(w.newest))
	}
}

// progress prints a status line every opts.Progress until ctx ends.
func (w *watch) progress(ctx context.Context, start time.Time) {
	t := time.NewTicker(w.opts.Progress)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		w.sampleOnce(now)
		w.mu.Lock()
		lag := "-"
		if !w.newest.IsZero() {
			lag = now.Sub(w.newest).Round(time.Second).String()
		}
		line := fmt.Sprintf("%s soak %s: simulated %d, delivered %d; lag %s (max %s); invocations %d ok, %d skipped, %d failed (%d by a kill); %d kills; API %d calls, %d throttled by the limit",
			stamp(now), now.Sub(start).Round(time.Second), w.stack.Sim.Len(), len(w.copies), lag, w.maxLag.Round(time.Second),
			w.outcomes.OK, w.outcomes.Skipped, w.outcomes.Failed+w.outcomes.FailedByKill, w.outcomes.FailedByKill, len(w.killedAt),
			len(w.stack.Sim.Calls()), w.stack.Sim.Throttled())
		w.mu.Unlock()
		w.printf("%s\n", line)
	}
}

// drain invokes until an invocation that began after `after` (the last
// activity's created time plus the settle delay) read its window to the end
// with nothing more to do, waiting out leases of killed runs.
func (w *watch) drain(ctx context.Context, host *timerhost.Host, after time.Time, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ev, err := host.Invoke(ctx, "")
		if err == nil && ev.Time.Add(-ev.Duration).After(after) && strings.Contains(strings.Join(ev.Logs, " "), "more to do: no") {
			w.printf("%s soak: drained\n", stamp(ev.Time))
			return nil
		}
		if errors.Is(err, timerhost.ErrNotRunning) {
			return fmt.Errorf("drain: %w", err)
		}
		if !sleepCtx(ctx, time.Second) {
			return fmt.Errorf("not drained within %s: %w", timeout, ctx.Err())
		}
	}
}

// activityIDs returns each row's ActivityId, "" for a row without one.
func activityIDs(rows []json.RawMessage) []string {
	ids := make([]string, len(rows))
	for i, raw := range rows {
		var r struct{ ActivityId string }
		_ = json.Unmarshal(raw, &r)
		ids[i] = r.ActivityId
	}
	return ids
}

// sleepCtx waits d; false means ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func stamp(t time.Time) string { return t.Local().Format("15:04:05") }

func short(id string) string { return id[:min(8, len(id))] }
