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

	sample, err := os.ReadFile("../sentinel/testdata/sample_1.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(sample, &rec); err != nil {
		t.Fatal(err)
	}
	var data []json.RawMessage
	for i := range 3 {
		rec["_id"], rec["created"] = fmt.Sprintf("act-%d", i), time.Now().Add(-time.Hour).UnixMilli()
		raw, _ := json.Marshal(rec)
		data = append(data, raw)
	}
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
