package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// syncScan forwards one scan-mode window. Scan mode walks a window of
// created times by date, descending, so the created cursor cannot move page
// by page: it stays at the window's start until the whole window is
// forwarded, and the checkpoint meanwhile holds the continuation (the
// filters of the next request, verbatim, and how many rows of that
// request's answer are already forwarded). A run that stops or dies mid
// window resumes from the continuation; the window ends only when the API
// says there is nothing next, and the cursor then moves past it.
func (r *Runner) syncScan(fetchCtx, uploadCtx context.Context, stop *stopSignal, lease *checkpoint.Lease, src ActivitySource, up Uploader, res *Result, log *slog.Logger) (err error) {
	state := r.initialState(lease, res.Start, log)
	res.Checkpoint, res.ScannedTo = state.Cursor, msTime(state.ScannedToMs)
	from := state.Cursor.CreatedMs
	sc := state.Scan
	if sc == nil {
		end := res.Start.Add(-r.set.SettleDelay).UnixMilli()
		if from > end {
			return nil // nothing can be read yet
		}
		filters, err := mcas.ScanFilters(from, end, r.set.Filters)
		if err != nil {
			return &Error{Class: ClassInternal, Err: err}
		}
		sc = &checkpoint.Scan{Filters: filters, WindowEndMs: end}
	} else {
		log.Info("resuming a scan window", "from", msTime(from), "to", msTime(sc.WindowEndMs), "rows_done_in_page", sc.Done)
	}
	res.WindowEnd = msTime(sc.WindowEndMs)

	// Ids already forwarded at the cursor's millisecond (from list mode).
	seen := make(map[string]struct{}, len(state.Cursor.Seen))
	for _, id := range state.Cursor.Seen {
		seen[id] = struct{}{}
	}
	// A row's position: its page (by the filters that asked for it), how
	// many of the page's rows are forwarded once it is, and which of them
	// share its date (nil when not known).
	type scanPos struct {
		filters json.RawMessage
		done    int
		bd      boundary
	}
	send := newSender(uploadCtx, stop, up, r.set.Stream, res, func(p scanPos) error {
		state.Scan = &checkpoint.Scan{Filters: p.filters, Done: p.done, WindowEndMs: sc.WindowEndMs, Boundary: p.bd.saved()}
		return lease.Save(uploadCtx, state, time.Now())
	})
	defer func() {
		if werr := send.wait(); err == nil {
			err = werr
		}
	}()
	var rowBuf []byte
	scan := func(ctx context.Context, filters json.RawMessage) (mcas.ScanPage, error) {
		return src.Scan(ctx, filters, mcas.MaxScanLimit)
	}
	// The next page's call, started as soon as this page names it: a scan
	// page of 5,000 takes seconds to read and longer to upload, and the two
	// overlap. Rows of consecutive pages share batches; a row's position
	// names its own page, so the checkpoint is right wherever an upload ends.
	var next *ahead[json.RawMessage, mcas.ScanPage]
	defer func() { next.abandon() }()

	// The position within the current page: done rows of it consumed, and
	// bd, those of them that share the last one's date (unknown when a page
	// resumed by count did not tell). A run resumed inside a page starts
	// from the boundary it saved, so a stop before the page comes keeps it,
	// and the rows consumed since add to it wherever the API lists the
	// rows already forwarded.
	filters, done, resume := sc.Filters, sc.Done, sc.Boundary
	bd, unknown := boundary{}, done > 0
	if resume != nil && done > 0 {
		bd, unknown = boundary{resume.DateMs, slices.Clone(resume.IDs)}, false
	}
	for !res.MoreToDo {
		if stop.stopped() {
			res.MoreToDo = true // a page read ahead is left for the next run
			break
		}
		if next == nil {
			next = fetchAhead(fetchCtx, filters, scan)
		}
		page, err := next.wait()
		next = nil
		if err != nil {
			if toldToStop(fetchCtx, err) {
				res.MoreToDo = true
				break
			}
			return &Error{Class: classifyAPI(err), Err: err}
		}
		if done > len(page.Data) {
			return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("the scan page has %d activities but %d of it were already forwarded: the API answered the same query differently", len(page.Data), done)}
		}
		// An answer that names its own request next would be asked for,
		// and its rows forwarded, again and again.
		if page.HasNext && bytes.Equal(page.NextQueryFilters, filters) {
			return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("the scan made no progress: a page of %d activities whose nextQueryFilters repeat the request; none of it was sent", len(page.Data))}
		}
		// Every row of the page is saved as a position naming its request:
		// one the checkpoint cannot hold must stop the run before any of the
		// page's rows goes out, or every later run would send them again.
		if err := checkpoint.CheckScan(checkpoint.Scan{Filters: filters, Done: len(page.Data), WindowEndMs: sc.WindowEndMs}); err != nil {
			return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("the scan's request filters (%d bytes) cannot be saved in the checkpoint, so none of its page was sent: %w", len(filters), err)}
		}
		if page.HasNext && !stop.stopped() {
			next = fetchAhead(fetchCtx, page.NextQueryFilters, scan)
		}
		// Resumed inside this page: the rows already forwarded are the
		// boundary's, whatever order the API lists them in this time. With
		// no boundary (or a page that does not fit it), the first done.
		start, isDone := done, func(sentinel.RowInfo) bool { return false }
		if done > 0 && resume != nil {
			if f, ok := r.resumeAt(page, *resume, done, &rowBuf, log); ok {
				start, isDone = 0, f
			} else {
				bd, unknown = boundary{}, true
			}
		}
		resume = nil
		for i := start; i < len(page.Data); i++ {
			// A page holds up to 25 batches: told to stop part way (out of
			// time, or shutting down), the run stops at this row rather
			// than forward the rest, and the next run asks for the page
			// again and skips the rows before it.
			if stop.stopped() {
				res.MoreToDo = true
				break
			}
			row, info, err := r.appendRow(rowBuf[:0], page.Data[i], page.Compact)
			if err != nil {
				return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("activity in the API's answer: %w", err)}
			}
			rowBuf = row
			if info.CreatedMs < from || info.CreatedMs > sc.WindowEndMs {
				return &Error{Class: ClassAPIBadResponse, Err: fmt.Errorf("activity %s has created=%d outside the scan window [%d, %d]: the API ignored the created filter", info.ID, info.CreatedMs, from, sc.WindowEndMs)}
			}
			if isDone(info) {
				continue // forwarded by an earlier run, and counted in done
			}
			done++
			bd.consume(info)
			if _, dup := seen[info.ID]; dup && info.CreatedMs == from {
				res.Duplicates++
				continue
			}
			if err := send.add(info.ID, row, scanPos{filters, done, bd.snapshot(unknown)}); errors.Is(err, errStopped) {
				res.MoreToDo = true // the continuation stays at the last save
				break
			} else if err != nil {
				return err
			}
		}
		page.Release() // the rows are copied into batches
		if res.MoreToDo {
			break
		}
		if !page.HasNext {
			if err := send.flush(); errors.Is(err, errStopped) {
				res.MoreToDo = true // the continuation stays at the last save
				break
			} else if err != nil {
				return err
			}
			break
		}
		// The page is consumed: its rows are in batches, uploaded in order.
		filters, done, bd, unknown = page.NextQueryFilters, 0, boundary{}, false
	}
	if res.MoreToDo {
		// Stopped between pages or within one. Rows batched but not sent
		// are left for the next run: the continuation stays where the last
		// accepted upload saved it. With none left, it is the next row not
		// added (past any duplicates).
		if err := send.flush(); errors.Is(err, errStopped) {
			return nil
		} else if err != nil {
			return err
		}
		state.Scan = &checkpoint.Scan{Filters: filters, Done: done, WindowEndMs: sc.WindowEndMs, Boundary: bd.snapshot(unknown).saved()}
		if err := lease.Save(uploadCtx, state, time.Now()); err != nil {
			return &Error{Class: classifySave(err), Err: fmt.Errorf("save the scan position: %w", err)}
		}
		return nil
	}
	// The window is forwarded: the cursor moves past it.
	state = checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: sc.WindowEndMs + 1}, ScannedToMs: max(sc.WindowEndMs, state.ScannedToMs)}
	if err := lease.Save(uploadCtx, state, time.Now()); err != nil {
		return &Error{Class: classifySave(err), Err: fmt.Errorf("save the checkpoint at the scan window's end: %w", err)}
	}
	res.Checkpoint, res.ScannedTo = state.Cursor, msTime(state.ScannedToMs)
	return nil
}

// boundary tracks the rows of a scan page consumed so far that share the
// last one's date. A page comes by date descending, so these and every row
// of a later date are the consumed ones, in any order of the date's rows.
type boundary struct {
	dateMs int64
	ids    []string
}

func (b *boundary) consume(info sentinel.RowInfo) {
	if b.ids == nil || info.TimestampMs != b.dateMs {
		// A fresh slice: snapshots taken earlier keep the old one.
		b.dateMs, b.ids = info.TimestampMs, make([]string, 0, 8)
	}
	b.ids = append(b.ids, info.ID)
}

// snapshot is the boundary as it is now, for a row's position; later
// consumes do not change it. Empty when what was consumed is not known.
func (b *boundary) snapshot(unknown bool) boundary {
	if unknown {
		return boundary{}
	}
	return boundary{b.dateMs, b.ids[:len(b.ids):len(b.ids)]}
}

// saved is the boundary as the checkpoint keeps it: nil when empty.
func (b boundary) saved() *checkpoint.ScanBoundary {
	if len(b.ids) == 0 {
		return nil
	}
	return &checkpoint.ScanBoundary{DateMs: b.dateMs, IDs: b.ids}
}

// resumeAt tells the rows of a page asked for again that an earlier run
// forwarded, by the boundary it saved: every row of a later date, and of
// the boundary's date those it names. That holds only for a page by date
// descending in which the rule finds exactly done rows; otherwise the page
// is resumed by count, as before boundaries were kept, with a warning.
func (r *Runner) resumeAt(page mcas.ScanPage, b checkpoint.ScanBoundary, done int, buf *[]byte, log *slog.Logger) (func(sentinel.RowInfo) bool, bool) {
	ids := make(map[string]struct{}, len(b.IDs))
	for _, id := range b.IDs {
		ids[id] = struct{}{}
	}
	isDone := func(info sentinel.RowInfo) bool {
		if info.TimestampMs != b.DateMs {
			return info.TimestampMs > b.DateMs
		}
		_, ok := ids[info.ID]
		return ok
	}
	n, last := 0, int64(math.MaxInt64)
	for _, raw := range page.Data {
		row, info, err := r.appendRow((*buf)[:0], raw, page.Compact)
		if err != nil {
			return nil, false // the loop reports it
		}
		*buf = row
		if info.TimestampMs > last {
			log.Warn("resuming a scan page whose rows are not by date descending: skipping the first rows already forwarded by count",
				"done", done)
			return nil, false
		}
		last = info.TimestampMs
		if isDone(info) {
			n++
		}
	}
	if n != done {
		log.Warn("resuming a scan page that differs from the one an earlier run forwarded rows of: skipping the first rows by count",
			"done", done, "by_boundary", n)
		return nil, false
	}
	return isDone, true
}
