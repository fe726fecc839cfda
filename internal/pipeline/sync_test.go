package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// pagesSource answers the list calls with its pages in turn.
type pagesSource struct {
	pages [][]json.RawMessage
	calls *int
}

func (s pagesSource) Activities(context.Context, mcas.Query) (mcas.Page, error) {
	i := *s.calls
	*s.calls++
	if i >= len(s.pages) {
		return mcas.Page{}, nil
	}
	return mcas.Page{Data: s.pages[i], HasNext: true}, nil
}
func (s pagesSource) Scan(context.Context, json.RawMessage, int) (mcas.ScanPage, error) {
	return mcas.ScanPage{}, errors.New("scan mode is not used")
}
func (s pagesSource) Stats() mcas.Stats { return mcas.Stats{} }

// sampleActivities returns n copies of the sentinel package's sample
// record, the i-th with _id act-i and created created(i).
func sampleActivities(t *testing.T, n int, created func(i int) int64) []json.RawMessage {
	t.Helper()
	sample, err := os.ReadFile("../sentinel/testdata/sample_1.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(sample, &rec); err != nil {
		t.Fatal(err)
	}
	acts := make([]json.RawMessage, n)
	for i := range acts {
		rec["_id"], rec["created"] = fmt.Sprintf("act-%03d", i), created(i)
		acts[i], _ = json.Marshal(rec)
	}
	return acts
}

// An answer out of created order fails the run, and the checkpoint does not
// pass the activity out of order. Here a batch fills part way through the
// third page, whose 91st activity was created before its first: had the
// page's rows before it gone out in that batch, the checkpoint saved after
// it would pass the late one, and no run would read it again.
func TestOutOfOrderAnswerLosesNothing(t *testing.T) {
	base := time.Now().Add(-time.Hour).UnixMilli()
	late := base + 150
	pages := make([][]json.RawMessage, 3)
	for i, raw := range sampleActivities(t, 300, func(i int) int64 {
		if i == 290 {
			return late
		}
		return base + int64(i)
	}) {
		pages[i/100] = append(pages[i/100], raw)
	}
	if size := len(pages[0][0]) * 290; size < sentinel.MaxBatchBytes || len(pages[0][0])*200 > sentinel.MaxBatchBytes {
		t.Fatalf("test setup: rows of about %d bytes do not fill a batch within the third page, before its late activity", size/290)
	}
	store := newStore(t)
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	set := Settings{InitialLookback: 2 * time.Hour, SettleDelay: time.Second, RunBudget: time.Minute, RequestsPerMinute: 600, Stream: "Custom-X"}
	r := New(set, Deps{Store: store, Rows: rows, Uploader: &uploader{}, Limiter: NewLimiter(600),
		Source: func(mcas.Pacer) ActivitySource { return pagesSource{pages: pages, calls: &calls} }})
	_, err = r.Run(context.Background(), slog.New(slog.DiscardHandler))
	if ClassOf(err) != ClassAPIBadResponse || !strings.Contains(err.Error(), "created-ascending order") {
		t.Fatalf("run: %v, want a bad-response failure naming the order", err)
	}
	l, err := store.Acquire(context.Background(), "after", time.Now(), leaseTTL, checkpoint.State{})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.State().Cursor; c.CreatedMs > late {
		t.Errorf("the checkpoint is at created %d, past the activity created at %d out of order: no run would read it again", c.CreatedMs, late)
	}
}
