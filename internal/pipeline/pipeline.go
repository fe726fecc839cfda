package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// ActivitySource reads pages of activities; *mcas.Client is one.
type ActivitySource interface {
	Activities(ctx context.Context, q mcas.Query) (mcas.Page, error)
	Scan(ctx context.Context, filters json.RawMessage, limit int) (mcas.ScanPage, error)
	Stats() mcas.Stats
}

// RowBuilder turns one raw activity into one Sentinel row; *sentinel.ActivityRowBuilder is one.
type RowBuilder interface {
	AppendActivityRow(dst, raw []byte) ([]byte, sentinel.RowInfo, error)
	// AppendCompactActivityRow is for a record already validated and
	// compact, as the activities of a page whose Compact is set are.
	AppendCompactActivityRow(dst, rec []byte) ([]byte, sentinel.RowInfo, error)
}

// appendRow builds raw's row, skipping the validation and compaction that
// decoding its page already did when the page says so.
func (r *Runner) appendRow(dst, raw []byte, compact bool) ([]byte, sentinel.RowInfo, error) {
	if compact {
		return r.deps.Rows.AppendCompactActivityRow(dst, raw)
	}
	return r.deps.Rows.AppendActivityRow(dst, raw)
}

// Uploader sends a batch of rows to a stream; *sentinel.Uploader is one.
type Uploader interface {
	Upload(ctx context.Context, stream string, b *sentinel.Batch) (sentinel.UploadStats, error)
}

// LeaseStore hands out the tenant's lease and checkpoint; *checkpoint.Store is one.
type LeaseStore interface {
	Acquire(ctx context.Context, holder string, now time.Time, ttl time.Duration, initial checkpoint.State) (*checkpoint.Lease, error)
}

// Settings are the knobs of a run, from the configuration.
type Settings struct {
	InitialLookback time.Duration
	SettleDelay     time.Duration
	RunBudget       time.Duration
	// RequestsPerMinute is the most API calls in any 60 s.
	RequestsPerMinute int
	Stream            string
	Filters           map[string]json.RawMessage
	// ScanMode reads with the API's scan mode (up to 5,000 a call) instead
	// of 100-row pages.
	ScanMode bool
}

// Deps are what a run works with. Limiter is shared by every run of the
// process so consecutive invocations stay paced.
type Deps struct {
	Source   func(mcas.Pacer) ActivitySource
	Rows     RowBuilder
	Uploader Uploader
	Store    LeaseStore
	Limiter  *rate.Limiter
}

// Runner runs the sync. Safe for concurrent use: concurrent runs contend
// for the lease and all but one return Skipped.
type Runner struct {
	set  Settings
	deps Deps
}

// Interval returns the spacing between API calls for requestsPerMinute. It
// is 1% longer than 60s/n so that latency jitter on the way to the server
// cannot squeeze n+1 arrivals into one minute.
func Interval(requestsPerMinute int) time.Duration {
	return time.Minute * 101 / time.Duration(100*requestsPerMinute)
}

// NewLimiter returns the process-wide limiter for requestsPerMinute.
func NewLimiter(requestsPerMinute int) *rate.Limiter {
	return rate.NewLimiter(rate.Every(Interval(requestsPerMinute)), 1)
}

// New returns a Runner.
func New(set Settings, deps Deps) *Runner {
	return &Runner{set: set, deps: deps}
}

// leaseTTL is how long a lease outlives its last renewal: a run that dies
// holds up the next ones at most this long, at any call rate. A successor
// still makes no call within one interval of the dead run's last one: the
// pacer holds it off through the lease (pacer.Wait).
const leaseTTL = 15 * time.Second

// Run performs one invocation's work. It returns a nil error with
// Result.Skipped set when another invocation holds the lease.
func (r *Runner) Run(ctx context.Context, log *slog.Logger) (res Result, err error) {
	start := time.Now()
	res.Start = start
	defer func() { res.Duration, res.Failed = time.Since(start), err != nil }()

	holder := newHolderID()
	ttl := leaseTTL
	// A first run creates the checkpoint at the initial lookback, so that a
	// run failing before its first save leaves that starting point behind.
	initial := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: start.Add(-r.set.InitialLookback).UnixMilli()}}
	lease, err := r.deps.Store.Acquire(ctx, holder, start, ttl, initial)
	var busy *checkpoint.BusyError
	switch {
	case errors.As(err, &busy):
		res.Skipped = fmt.Sprintf("another invocation holds the lease until %s", busy.Until.UTC().Format(time.RFC3339))
		return res, nil
	case err != nil && ctx.Err() != nil:
		// Told to stop before the run began: nothing done, nothing lost.
		res.MoreToDo, res.Interrupted = true, true
		return res, nil
	case err != nil:
		return res, &Error{Class: ClassCheckpoint, Err: fmt.Errorf("take the lease: %w", err)}
	}

	// Everything below runs under the lease, kept alive by a heartbeat.
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	// Reading stops at the budget, or sooner when ctx ends (the worker is
	// shutting down) or the lease is lost; uploads and saves never see it.
	deadline := start.Add(r.set.RunBudget)
	fetchCtx, cancelFetch := context.WithDeadline(ctx, deadline)
	defer cancelFetch()
	stop := newStopSignal(fetchCtx, deadline)
	var (
		hb       sync.WaitGroup
		lostMu   sync.Mutex
		leaseErr error
	)
	// lost reports the lease's loss to the upload path: a run that lost its
	// lease must not send anything more, since the new holder will.
	lost := func() error {
		lostMu.Lock()
		defer lostMu.Unlock()
		if leaseErr != nil {
			return &Error{Class: ClassLeaseLost, Err: fmt.Errorf("another invocation took over the lease: %w", leaseErr)}
		}
		return nil
	}
	hb.Go(func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				// Bounded, so that a request that hangs neither holds the
				// lease's lock (saves wait on it) nor stops later renewals;
				// the Lease sorts out at its next write whether it landed.
				rctx, cancel := context.WithTimeout(hbCtx, ttl/3)
				err := lease.Renew(rctx, time.Now())
				cancel()
				if errors.Is(err, checkpoint.ErrLeaseLost) {
					lostMu.Lock()
					leaseErr = err
					lostMu.Unlock()
					cancelFetch()
					return
				} else if err != nil && hbCtx.Err() == nil {
					log.Warn("lease renewal failed; retrying", "error", err)
				}
			}
		}
	})
	pace := &pacer{limiter: r.deps.Limiter, notBefore: lease.NotBefore(), lease: lease, interval: Interval(r.set.RequestsPerMinute)}
	defer func() {
		stopHB()
		hb.Wait()
		// Release even when the caller gave up: the next run should not wait for the expiry.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := lease.Release(rctx, pace.nextAllowed()); rerr != nil && err == nil && !errors.Is(rerr, checkpoint.ErrLeaseLost) {
			log.Warn("release the lease", "error", rerr)
		}
	}()

	src := r.deps.Source(pace)
	defer func() {
		st := src.Stats()
		res.APICalls, res.Throttled = st.Calls, st.Throttled
	}()
	up := &guardedUploader{Uploader: r.deps.Uploader, lost: lost, lease: lease}
	if r.scanMode(lease.State(), log) {
		err = r.syncScan(fetchCtx, context.WithoutCancel(ctx), stop, lease, src, up, &res, log)
	} else {
		err = r.sync(fetchCtx, context.WithoutCancel(ctx), stop, lease, src, up, &res, log)
	}
	res.Interrupted = res.MoreToDo && stop.interrupted()
	if lerr := lost(); lerr != nil {
		// Whatever else went wrong (the fetch was cancelled), the cause is this.
		err = lerr
	}
	return res, err
}

// sync reads the window and forwards it. fetchCtx ends when stop says so;
// uploadCtx never expires on its own, because an upload once started is
// awaited to its answer: one the service accepted but we gave up on would be
// sent again by the next run.
func (r *Runner) sync(fetchCtx, uploadCtx context.Context, stop *stopSignal, lease *checkpoint.Lease, src ActivitySource, up Uploader, res *Result, log *slog.Logger) (err error) {
	start := res.Start
	state := r.initialState(lease, start, log)
	windowEnd := start.Add(-r.set.SettleDelay).UnixMilli()
	res.WindowEnd = msTime(windowEnd)
	res.Checkpoint, res.ScannedTo = state.Cursor, msTime(state.ScannedToMs)

	cur := newCursor(state.Cursor)
	send := newSender(uploadCtx, stop, up, r.set.Stream, res, func(c checkpoint.Cursor) error {
		state.Cursor = c
		if err := lease.Save(uploadCtx, state, time.Now()); err != nil {
			return err
		}
		res.Checkpoint = c
		return nil
	})
	// Whatever ends the run, the upload in flight is awaited (and its
	// checkpoint saved) before the lease is released.
	defer func() {
		if werr := send.wait(); err == nil {
			err = werr
		}
	}()
	var (
		pageRows []byte    // the page's rows, built before any is batched
		rows     []pageRow // where each is in pageRows
	)

	complete := cur.created > windowEnd // nothing can be read yet
	for !complete && !res.MoreToDo {
		if stop.stopped() {
			res.MoreToDo = true
			break
		}
		q := mcas.Query{CreatedFrom: cur.created, CreatedTo: windowEnd, Skip: cur.skip, Limit: pageLimit(cur.rereads), Filters: r.set.Filters}
		page, err := src.Activities(fetchCtx, q)
		if err != nil {
			if toldToStop(fetchCtx, err) {
				res.MoreToDo = true
				break
			}
			return &Error{Class: classifyAPI(err), Err: err}
		}
		// The whole page is built and checked before any of its rows is
		// batched: an upload started part way through it saves a cursor
		// past its rows so far, and an activity after them but created
		// before them (the API out of order) would then never be read again.
		pageRows, rows = pageRows[:0], rows[:0]
		last := cur.created
		for _, raw := range page.Data {
			start := len(pageRows)
			var info sentinel.RowInfo
			pageRows, info, err = r.appendRow(pageRows, raw, page.Compact)
			if err != nil {
				return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("activity in the API's answer: %w", err)}
			}
			switch {
			case info.CreatedMs > windowEnd:
				return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("activity %s has created=%d after the requested window end %d: the API ignored the created filter", info.ID, info.CreatedMs, windowEnd)}
			case info.CreatedMs < last:
				return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("activity %s has created=%d, before %d earlier in the answer or at the cursor: the API did not honour the created-ascending order; nothing of this page was sent", info.ID, info.CreatedMs, last)}
			}
			last = info.CreatedMs
			rows = append(rows, pageRow{start: start, end: len(pageRows), info: info})
		}
		cur.newAnswer()
		reread := false
		for _, pr := range rows {
			if pr.info.CreatedMs > cur.created {
				// Every position of the cursor's millisecond is consumed.
				if reread, err = leaveMillisecond(cur, log); err != nil {
					return err
				} else if reread {
					break // the rest of the page is asked for again
				}
			}
			dup, err := cur.advance(pr.info.ID, pr.info.CreatedMs)
			if err != nil {
				return &Error{Class: ClassAPIBadResponse, Err: err}
			}
			if dup {
				res.Duplicates++
				continue
			}
			if err := send.add(pr.info.ID, pageRows[pr.start:pr.end], cur.snapshot()); errors.Is(err, errStopped) {
				res.MoreToDo = true
				break
			} else if err != nil {
				return err
			}
		}
		page.Release() // the rows are copied into batches
		complete = !res.MoreToDo && !reread && (len(page.Data) == 0 || (!page.HasNext && len(page.Data) < q.Limit))
		if complete {
			// The window's last millisecond is consumed too.
			if reread, err = leaveMillisecond(cur, log); err != nil {
				return err
			}
			complete = !reread
		}
	}
	// Out of budget, the rows batched but not sent are left for the next
	// run, which reads them again from the last accepted row.
	if err := send.flush(); errors.Is(err, errStopped) {
		res.MoreToDo, complete = true, false
	} else if err != nil {
		return err
	}
	if complete {
		// The whole window is read: remember it, and the cursor past any
		// trailing duplicates, so lag is reported from the window's end.
		state.Cursor, state.ScannedToMs = cur.snapshot(), max(windowEnd, state.ScannedToMs)
		if err := lease.Save(uploadCtx, state, time.Now()); err != nil {
			return &Error{Class: classifySave(err), Err: fmt.Errorf("save the checkpoint at the window's end: %w", err)}
		}
		res.Checkpoint, res.ScannedTo = state.Cursor, msTime(state.ScannedToMs)
	}
	return nil
}

// maxRereads bounds how often one run reads a millisecond again: a tie the
// checkpoint can vouch for (500 at most) costs five to ten calls a reading.
// An API that orders a tie anew on every call needs a few readings to show
// every activity at least once (TestTiesInANewOrderOnEveryCall).
const maxRereads = 6

// pageLimit is the page size of a reading: smaller on each reading again.
// A store that sorts equal keys by no rule of its own may order them by
// how the query is answered, the same for the same skip and limit (a
// top-k sort of skip+limit rows, as MongoDB's documentation warns of), so
// reading again with the first reading's questions would only get its
// answers again.
func pageLimit(rereads int) int { return mcas.MaxPageSize - 13*min(rereads, maxRereads) }

// leaveMillisecond is called once every position of the cursor's
// millisecond is consumed, before the cursor leaves it. It reports whether
// the millisecond must be read again: the API ordered its activities
// differently between calls, so skip passed over some never read (see
// cursor.missed). It is read again from its first activity, the ids kept
// telling the ones already sent, with another page size each time (see
// pageLimit). An excess that survives maxRereads readings fails the run: it
// means either an order that keeps changing or one activity listed at two
// positions on different pages, and the two cannot be told apart (one in a
// single answer is told, and counted as a repeat). The checkpoint stays
// inside the millisecond.
//
// A tie of more than checkpoint.MaxSeen that a run stopped inside leaves
// activities sent whose ids the checkpoint did not keep. If the next run
// meets a kept one past its skip, it cannot tell which were passed over:
// it reads the millisecond again all the same, and the unkept ones are
// sent twice. Promise 1 outweighs promise 2 there; the parser drops the
// repeats, and a run that stopped instead would stop every run after it.
func leaveMillisecond(cur *cursor, log *slog.Logger) (bool, error) {
	at := msTime(cur.created).Format("2006-01-02T15:04:05.000Z")
	if cur.reordered() {
		// Only a cursor loaded from a checkpoint is not whole, and reading
		// again makes it whole: this happens once per run at most.
		log.Error("the API listed the activities of one millisecond in another order than when some of them were sent, in a tie longer than the checkpoint keeps ids of: reading it again from its first activity, so up to maybe_sent_twice of them are sent a second time (the MCASActivity parser drops repeats)",
			"created", at, "positions", cur.skip, "maybe_sent_twice", cur.unkept)
		cur.reread()
		return true, nil
	}
	n := cur.missed()
	if n == 0 {
		return false, nil
	}
	if cur.rereads >= maxRereads {
		return false, &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("the API listed the %d activities created at %s in a different order on different calls (or listed one of them on two pages), so up to %d of them were passed over; read again %d times, the checkpoint stays at that millisecond",
			cur.skip, at, n, cur.rereads)}
	}
	log.Warn("the API ordered the activities of one millisecond differently between calls: reading that millisecond again",
		"created", at, "activities", cur.skip, "ids_forwarded", len(cur.seen), "maybe_passed_over", n)
	cur.reread()
	return true, nil
}

// pageRow is one row of a page built ahead of batching.
type pageRow struct {
	start, end int
	info       sentinel.RowInfo
}

// guardedUploader refuses to start an upload once the lease is lost, or
// when it is about to run out because renewals have been failing: another
// process could take it over and send the same rows.
type guardedUploader struct {
	Uploader
	lost  func() error
	lease interface{ Expires() time.Time }
}

// leaseMargin is the least life a lease must have left for an upload to
// start. The heartbeat renews every leaseTTL/3, so a lease with less left
// has missed two renewals.
const leaseMargin = leaseTTL / 3

func (g *guardedUploader) Upload(ctx context.Context, stream string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	if err := g.lost(); err != nil {
		return sentinel.UploadStats{}, err
	}
	if left := time.Until(g.lease.Expires()); left < leaseMargin {
		return sentinel.UploadStats{}, &Error{Class: ClassCheckpoint, Err: fmt.Errorf("the lease could not be renewed (%s of it left, runs out at %s): no upload starts that another invocation could repeat",
			left.Round(time.Millisecond), g.lease.Expires().UTC().Format(time.RFC3339Nano))}
	}
	return g.Uploader.Upload(ctx, stream, b)
}

// scanMode reports whether the run reads in scan mode. An unfinished scan
// window is finished in scan mode even when the setting was turned off: its
// forwarded pages must not be read again. And scan mode waits while list
// mode's cursor sits inside a tie it has forwarded more of than the ids it
// keeps (Cursor.Seen): a scan knows what it forwarded at the cursor's
// millisecond only by those ids, and would send the others again.
func (r *Runner) scanMode(st checkpoint.State, log *slog.Logger) bool {
	switch {
	case st.Scan != nil:
		return true
	case r.set.ScanMode && st.Cursor.Skip > len(st.Cursor.Seen):
		log.Info("scan mode waits: list mode finishes the activities sharing the checkpoint's millisecond first",
			"created", msTime(st.Cursor.CreatedMs), "forwarded", st.Cursor.Skip, "ids_kept", len(st.Cursor.Seen))
		return false
	}
	return r.set.ScanMode
}

// initialState is the checkpoint; on the very first run, Acquire created it
// at the initial lookback. One at zero (no cursor, no scan, nothing scanned)
// was left by an earlier version whose first run stopped before its first
// save: it too starts at the initial lookback, from this run, instead of
// reading everything the API holds.
func (r *Runner) initialState(lease *checkpoint.Lease, start time.Time, log *slog.Logger) checkpoint.State {
	state := lease.State()
	switch {
	case !lease.Found():
		log.Info("first run: starting at the initial lookback", "from", msTime(state.Cursor.CreatedMs))
	case state.Cursor.CreatedMs == 0 && state.Scan == nil && state.ScannedToMs == 0:
		state.Cursor = checkpoint.Cursor{CreatedMs: start.Add(-r.set.InitialLookback).UnixMilli()}
		log.Warn("the checkpoint holds no position (a first run stopped before saving one): starting at the initial lookback", "from", msTime(state.Cursor.CreatedMs))
	}
	return state
}

// toldToStop reports whether err only means the run was told to stop: its
// budget ran out, or its fetch context ended.
func toldToStop(ctx context.Context, err error) bool {
	return errors.Is(err, mcas.ErrDeadline) || (ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)))
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func newHolderID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
