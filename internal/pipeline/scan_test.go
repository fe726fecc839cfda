package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// scanSource answers every scan request with one last page of data.
type scanSource struct{ data []json.RawMessage }

func (s scanSource) Activities(context.Context, mcas.Query) (mcas.Page, error) {
	return mcas.Page{}, errors.New("list mode is not used")
}
func (s scanSource) Scan(context.Context, json.RawMessage, int) (mcas.ScanPage, error) {
	return mcas.ScanPage{Data: s.data}, nil
}
func (s scanSource) Stats() mcas.Stats { return mcas.Stats{} }

// A scan page whose request the checkpoint cannot hold (its filters are the
// scan's position) fails the run before any of its rows is sent. Sent, its
// rows' save would be refused after the upload was accepted, and every later
// run would send them again. Config refuses MCAS_FILTERS this long in scan
// mode; the API's nextQueryFilters could still be.
func TestScanPositionTooLongForTheCheckpointSendsNothing(t *testing.T) {
	users := make([]string, 1100)
	for i := range users {
		users[i] = fmt.Sprintf("%q", fmt.Sprintf("user%06d@contoso.example", i))
	}
	filters := map[string]json.RawMessage{"user.username": json.RawMessage(`{"eq":[` + strings.Join(users, ",") + `]}`)}

	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	data := sampleActivities(t, 3, func(int) int64 { return hourAgo })
	store := newStore(t)
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	up := &uploader{}
	set := Settings{InitialLookback: 24 * time.Hour, SettleDelay: 2 * time.Minute, RunBudget: time.Minute,
		RequestsPerMinute: 30, Stream: schema.Activity().Stream, Filters: filters, ScanMode: true}
	for run := 1; run <= 2; run++ {
		r := New(set, Deps{Store: store, Rows: rows, Uploader: up, Limiter: NewLimiter(10000),
			Source: func(mcas.Pacer) ActivitySource { return scanSource{data: data} }})
		_, err := r.Run(context.Background(), slog.New(slog.DiscardHandler))
		if ClassOf(err) != ClassAPIBadResponse || !strings.Contains(err.Error(), "cannot be saved in the checkpoint") {
			t.Errorf("run %d: %v, want a bad-response failure saying the position cannot be saved", run, err)
		}
	}
	if len(up.got) != 0 {
		t.Errorf("%d uploads, want none: the rows' position could never be saved", len(up.got))
	}
}

// modeSource answers list calls with an empty last page and counts the
// calls of each mode.
type modeSource struct{ list, scan *int }

func (s modeSource) Activities(context.Context, mcas.Query) (mcas.Page, error) {
	*s.list++
	return mcas.Page{}, nil
}
func (s modeSource) Scan(context.Context, json.RawMessage, int) (mcas.ScanPage, error) {
	*s.scan++
	return mcas.ScanPage{}, nil
}
func (s modeSource) Stats() mcas.Stats { return mcas.Stats{} }

// Turned on while list mode's cursor sits inside a tie, scan mode waits
// until list mode has passed it when the checkpoint no longer holds the id
// of every activity forwarded at that millisecond (more than MaxSeen share
// it): the scan would tell them apart only by those ids.
func TestScanModeWaitsForAListTieItCannotTellApart(t *testing.T) {
	created := time.Now().Add(-time.Hour).UnixMilli()
	for _, tc := range []struct {
		name     string
		cursor   checkpoint.Cursor
		wantScan bool
	}{
		{"every id kept", checkpoint.Cursor{CreatedMs: created, Skip: 2, Seen: []string{"a", "b"}}, true},
		{"more forwarded than kept", checkpoint.Cursor{CreatedMs: created, Skip: 3, Seen: []string{"b", "c"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			l, err := store.Acquire(ctx, "list-mode run", time.Now(), leaseTTL, checkpoint.State{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Save(ctx, checkpoint.State{Cursor: tc.cursor}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx, time.Time{}); err != nil {
				t.Fatal(err)
			}
			var list, scan int
			set := Settings{InitialLookback: time.Hour, SettleDelay: time.Second, RunBudget: time.Minute, RequestsPerMinute: 600, Stream: "Custom-X", ScanMode: true}
			r := New(set, Deps{Store: store, Uploader: &uploader{}, Limiter: NewLimiter(600),
				Source: func(mcas.Pacer) ActivitySource { return modeSource{list: &list, scan: &scan} }})
			if _, err := r.Run(ctx, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			if gotScan := scan > 0 && list == 0; gotScan != tc.wantScan || list+scan == 0 {
				t.Errorf("%d list calls, %d scan calls; want scan mode: %v", list, scan, tc.wantScan)
			}
		})
	}
}

// echoScanSource answers every scan request with the same rows and, as the
// next request's filters, the request's own: an answer that can only lead
// back to itself.
type echoScanSource struct {
	data  []json.RawMessage
	calls *int
}

func (s echoScanSource) Activities(context.Context, mcas.Query) (mcas.Page, error) {
	return mcas.Page{}, errors.New("list mode is not used")
}
func (s echoScanSource) Scan(_ context.Context, filters json.RawMessage, _ int) (mcas.ScanPage, error) {
	*s.calls++
	// Written its own way, as an API would: the next request repeats it.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(filters, &m); err != nil {
		return mcas.ScanPage{}, err
	}
	next, _ := json.MarshalIndent(m, "", " ")
	return mcas.ScanPage{Data: s.data, HasNext: true, NextQueryFilters: next}, nil
}
func (s echoScanSource) Stats() mcas.Stats { return mcas.Stats{} }

// Promises 2 and 5: a scan page whose nextQueryFilters are its own request
// would be asked for and forwarded again and again. It fails the run, with
// its rows sent once at most, whether the page is empty or not.
func TestScanAnswerThatRepeatsItsRequestFailsLoudly(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	for _, n := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d activities", n), func(t *testing.T) {
			data := sampleActivities(t, n, func(int) int64 { return hourAgo })
			rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
			if err != nil {
				t.Fatal(err)
			}
			up := &uploader{}
			var calls int
			set := Settings{InitialLookback: 24 * time.Hour, SettleDelay: 2 * time.Minute, RunBudget: 2 * time.Second,
				RequestsPerMinute: 30, Stream: schema.Activity().Stream, ScanMode: true,
				Filters: map[string]json.RawMessage{"service": json.RawMessage(`{"eq":[11161]}`)}}
			r := New(set, Deps{Store: newStore(t), Rows: rows, Uploader: up, Limiter: NewLimiter(10000),
				Source: func(mcas.Pacer) ActivitySource { return echoScanSource{data: data, calls: &calls} }})
			_, err = r.Run(context.Background(), slog.New(slog.DiscardHandler))
			if ClassOf(err) != ClassAPIBadResponse || !strings.Contains(err.Error(), "no progress") {
				t.Errorf("run: %v after %d calls, want a bad-response failure saying the scan made no progress", err, calls)
			}
			sent := map[string]int{}
			for _, u := range up.got {
				for _, row := range u {
					sent[row["ActivityId"].(string)]++
				}
			}
			for id, k := range sent {
				if k > 1 {
					t.Errorf("%s sent %d times", id, k)
				}
			}
		})
	}
}

// failAfter accepts its first n uploads, then refuses every one.
type failAfter struct {
	n  int
	up *uploader
}

func (f *failAfter) Upload(ctx context.Context, stream string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	if f.n == 0 {
		return sentinel.UploadStats{}, errors.New("400 bad request")
	}
	f.n--
	return f.up.Upload(ctx, stream, b)
}

// Promise 1 in scan mode, whatever the API's order among the rows of a page
// that share one date: a run that stopped part way through a scan page
// saved which of that date's rows it forwarded (the boundary), and the next
// run, asked the page again in another order, forwards exactly the others.
// Skipping by count alone, it would send some twice and lose as many.
func TestScanPageResumedInAnotherOrderLosesNothing(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	const n, perDate = 600, 7
	date := func(i int) int64 { return hourAgo - int64(i/perDate) } // descending, 7 rows a date
	acts := datedActivities(t, n, func(int) int64 { return hourAgo }, date)
	// The same page with each date's rows reversed.
	var reordered []json.RawMessage
	for g := 0; g < n; g += perDate {
		grp := slices.Clone(acts[g:min(g+perDate, n)])
		slices.Reverse(grp)
		reordered = append(reordered, grp...)
	}
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		again []json.RawMessage
	}{
		{"asked again in the same order", acts},
		{"asked again with each date's rows in another order", reordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			up := &uploader{}
			set := Settings{InitialLookback: 24 * time.Hour, SettleDelay: 2 * time.Minute, RunBudget: time.Minute,
				RequestsPerMinute: 30, Stream: schema.Activity().Stream, ScanMode: true}
			run := func(u Uploader, page []json.RawMessage) error {
				r := New(set, Deps{Store: store, Rows: rows, Uploader: u, Limiter: NewLimiter(10000),
					Source: func(mcas.Pacer) ActivitySource { return scanSource{data: page} }})
				_, err := r.Run(ctx, slog.New(slog.DiscardHandler))
				return err
			}
			// The first run's first 1 MiB batch is accepted, part way
			// through the page; its second is refused.
			if err := run(&failAfter{n: 1, up: up}, acts); err == nil {
				t.Fatal("the first run did not fail on its refused upload")
			}
			if len(up.got) != 1 {
				t.Fatalf("%d uploads accepted, want 1", len(up.got))
			}
			k := len(up.got[0])
			l, err := store.Acquire(ctx, "look", time.Now(), leaseTTL, checkpoint.State{})
			if err != nil {
				t.Fatal(err)
			}
			sc := l.State().Scan
			var want []string
			for i := k - 1; i >= 0 && date(i) == date(k-1); i-- {
				want = append([]string{sampleID(i)}, want...)
			}
			if sc == nil || sc.Done != k || sc.Boundary == nil || sc.Boundary.DateMs != date(k-1) {
				t.Fatalf("saved scan position %+v, want %d rows done and the boundary at date %d", sc, k, date(k-1))
			}
			if diff := cmp.Diff(want, sc.Boundary.IDs); diff != "" {
				t.Errorf("boundary ids (-want +got):\n%s", diff)
			}
			if k%perDate == 0 {
				t.Fatalf("the batch ended on a date's last row (%d rows): the test wants it inside a date", k)
			}
			if err := l.Release(ctx, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if err := run(up, tc.again); err != nil {
				t.Fatal(err)
			}
			sent := map[string]int{}
			for _, u := range up.got {
				for _, row := range u {
					sent[row["ActivityId"].(string)]++
				}
			}
			for i := range n {
				if id := sampleID(i); sent[id] != 1 {
					t.Errorf("%s forwarded %d times, want once", id, sent[id])
				}
			}
		})
	}
}

// A boundary is trusted only for a page by date descending in which it
// names exactly the rows done; otherwise the page is resumed by count.
func TestResumeAtFallsBackToTheCount(t *testing.T) {
	page := func(dates ...int64) mcas.ScanPage {
		acts := datedActivities(t, len(dates), func(int) int64 { return 1 }, func(i int) int64 { return dates[i] })
		return mcas.ScanPage{Data: acts}
	}
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	r := New(Settings{}, Deps{Rows: rows})
	tests := []struct {
		name string
		page mcas.ScanPage
		done int
		id   string // the one row of date 20 done
		ok   bool
	}{
		{"by date descending, the boundary's rows done", page(30, 20, 20, 10), 2, "act-001", true},
		{"the boundary's row listed second in its date", page(30, 20, 20, 10), 2, "act-002", true},
		{"not by date descending", page(20, 30, 20, 10), 2, "act-002", false},
		{"fewer rows done by the boundary than saved", page(30, 20, 20, 10), 3, "act-001", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf []byte
			b := checkpoint.ScanBoundary{DateMs: 20, IDs: []string{tt.id}}
			isDone, ok := r.resumeAt(tt.page, b, tt.done, &buf, slog.New(slog.DiscardHandler))
			if ok != tt.ok {
				t.Fatalf("resumeAt ok = %v, want %v", ok, tt.ok)
			}
			if ok && (!isDone(sentinel.RowInfo{ID: tt.id, TimestampMs: 20}) || isDone(sentinel.RowInfo{ID: "other", TimestampMs: 20}) || !isDone(sentinel.RowInfo{ID: "x", TimestampMs: 30}) || isDone(sentinel.RowInfo{ID: "x", TimestampMs: 10})) {
				t.Error("isDone does not follow the boundary")
			}
		})
	}
}

// slowScanSource answers as scanSource does, after delay, or with err.
type slowScanSource struct {
	data  []json.RawMessage
	delay time.Duration
	err   error
}

func (s slowScanSource) Activities(context.Context, mcas.Query) (mcas.Page, error) {
	return mcas.Page{}, errors.New("list mode is not used")
}
func (s slowScanSource) Scan(context.Context, json.RawMessage, int) (mcas.ScanPage, error) {
	time.Sleep(s.delay)
	if s.err != nil {
		return mcas.ScanPage{}, s.err
	}
	return mcas.ScanPage{Data: s.data}, nil
}
func (s slowScanSource) Stats() mcas.Stats { return mcas.Stats{} }

// acceptRows accepts the first n rows of its first upload and refuses the
// rest, as a split upload does when a later request fails; every other
// upload is refused.
type acceptRows struct {
	n  int
	up *uploader
}

func (a *acceptRows) Upload(_ context.Context, _ string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	if a.n == 0 {
		return sentinel.UploadStats{}, errors.New("400 bad request")
	}
	var rows []map[string]any
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		return sentinel.UploadStats{}, err
	}
	n := min(a.n, len(rows))
	a.up.got, a.n = append(a.up.got, rows[:n]), 0
	return sentinel.UploadStats{Rows: n, Requests: 1}, errors.New("413 part of the batch refused")
}

// Promises 1 and 2 over three runs of one scan page. The first stops inside
// a date (its boundary names the date's rows it forwarded); the second,
// resumed by that boundary, ends part way in one of the ways below; the
// third finishes the page. Every row is forwarded exactly once only if each
// position the second run saves (or keeps) still counts the first run's
// rows: those of later dates and the boundary's, wherever this answer lists
// them.
func TestScanResumedPageEndedAgainLosesNothing(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	const n, perDate = 600, 7
	date := func(i int) int64 { return hourAgo - int64(i/perDate) }
	acts := datedActivities(t, n, func(int) int64 { return hourAgo }, date)
	var reordered []json.RawMessage // each date's rows reversed
	for g := 0; g < n; g += perDate {
		grp := slices.Clone(acts[g:min(g+perDate, n)])
		slices.Reverse(grp)
		reordered = append(reordered, grp...)
	}
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	const budget = time.Second
	tests := []struct {
		name   string
		source ActivitySource
		up     func(*uploader) Uploader
		third  []json.RawMessage // the page as the third run gets it
	}{
		// Each date's rows reversed, so the boundary date's rows not yet
		// forwarded come before the one that was; two of them are
		// accepted, then the upload fails.
		{"two more rows of the boundary's date accepted, listed before the forwarded one",
			scanSource{data: reordered}, func(u *uploader) Uploader { return &acceptRows{n: 2, up: u} }, acts},
		// The page arrives after the budget ran out: the run stops at its
		// first row, having forwarded nothing.
		{"the resumed page answered after the budget", slowScanSource{data: reordered, delay: budget + 200*time.Millisecond},
			func(u *uploader) Uploader { return u }, acts},
		// The call is cut off by the budget: no page at all.
		{"the resumed page's call cut off by the budget", slowScanSource{err: mcas.ErrDeadline},
			func(u *uploader) Uploader { return u }, reordered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			up := &uploader{}
			run := func(u Uploader, src ActivitySource, budget time.Duration) error {
				set := Settings{InitialLookback: 24 * time.Hour, SettleDelay: 2 * time.Minute, RunBudget: budget,
					RequestsPerMinute: 30, Stream: schema.Activity().Stream, ScanMode: true}
				r := New(set, Deps{Store: store, Rows: rows, Uploader: u, Limiter: NewLimiter(10000),
					Source: func(mcas.Pacer) ActivitySource { return src }})
				_, err := r.Run(ctx, slog.New(slog.DiscardHandler))
				return err
			}
			if err := run(&failAfter{n: 1, up: up}, scanSource{data: acts}, time.Minute); err == nil {
				t.Fatal("the first run did not fail on its refused upload")
			}
			if k := len(up.got[0]); k%perDate == 0 {
				t.Fatalf("the first run's batch ended on a date's last row (%d rows): the test wants it inside a date", k)
			}
			_ = run(tt.up(up), tt.source, budget) // fails or stops, as the case says
			if err := run(up, scanSource{data: tt.third}, time.Minute); err != nil {
				t.Fatal(err)
			}
			sent := map[string]int{}
			for _, u := range up.got {
				for _, row := range u {
					sent[row["ActivityId"].(string)]++
				}
			}
			var wrong []string
			for i := range n {
				if id := sampleID(i); sent[id] != 1 {
					wrong = append(wrong, fmt.Sprintf("%s×%d", id, sent[id]))
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%d rows not forwarded exactly once: %v", len(wrong), head(wrong))
			}
		})
	}
}

// datedActivities is sampleActivities with each activity's timestamp (its
// date, which scan mode pages by) set too.
func datedActivities(t *testing.T, n int, created, date func(i int) int64) []json.RawMessage {
	t.Helper()
	acts := sampleActivities(t, n, created)
	for i := range acts {
		var rec map[string]any
		if err := json.Unmarshal(acts[i], &rec); err != nil {
			t.Fatal(err)
		}
		rec["timestamp"] = date(i)
		acts[i], _ = json.Marshal(rec)
	}
	return acts
}
