package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

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
