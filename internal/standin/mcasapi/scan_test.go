package mcasapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tiedAt makes n hand-built activities that share the date ts, created from
// created on, one millisecond apart.
func tiedAt(prefix string, n int, ts, created int64) []Activity {
	acts := make([]Activity, n)
	for i := range acts {
		acts[i] = Activity{ID: fmt.Sprintf("26110511_15600_%s-%05d", prefix, i), Created: created + int64(i), Timestamp: ts, AppID: 15600}
	}
	return acts
}

type scanRecord struct {
	ID        string `json:"_id"`
	Timestamp int64  `json:"timestamp"`
}

// scanAll replays nextQueryFilters verbatim until hasNext is false and
// returns how often each id was listed.
func scanAll(t *testing.T, srv *httptest.Server, body map[string]any) map[string]int {
	t.Helper()
	seen := map[string]int{}
	last := int64(math.MaxInt64)
	for i := 0; ; i++ {
		if i > 500 {
			t.Fatal("scan does not end")
		}
		r := do(t, srv, "POST", ListPath, testToken, body)
		if r.status != 200 {
			t.Fatalf("page %d: status %d %.300s", i, r.status, r.body)
		}
		var p struct {
			HasNext          bool            `json:"hasNext"`
			NextQueryFilters json.RawMessage `json:"nextQueryFilters"`
			Data             []scanRecord    `json:"data"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		recs := p.Data
		limit, _ := body["limit"].(int)
		limit = max(limit, scanDefault)
		if len(recs) > limit && recs[0].Timestamp != recs[len(recs)-1].Timestamp {
			t.Errorf("page %d: %d records over limit %d with several dates", i, len(recs), limit)
		}
		for _, r := range recs {
			if r.Timestamp > last {
				t.Fatalf("page %d: date %d after %d: not walking date downwards", i, r.Timestamp, last)
			}
			last = r.Timestamp
			seen[r.ID]++
		}
		if !p.HasNext {
			if p.NextQueryFilters != nil {
				t.Errorf("nextQueryFilters %s with hasNext false", p.NextQueryFilters)
			}
			return seen
		}
		if p.NextQueryFilters == nil {
			t.Fatal("hasNext without nextQueryFilters")
		}
		body["filters"] = p.NextQueryFilters // verbatim
	}
}

func TestScanContinuation(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 21})
	gen := NewGenerator(21)
	sim.Backfill(gen, t0.Add(-4*time.Hour), t0, 1000) // O365 dates are whole seconds: many ties
	start, end := ms(t0.Add(-3*time.Hour)), ms(t0.Add(-time.Hour))
	mid := ms(t0.Add(-2 * time.Hour))
	sim.Add(tiedAt("tieA", 600, mid-3_600_000, mid)...)       // more than a page share one date
	sim.Add(tiedAt("tieB", 520, mid-3_599_000, mid+5000)...)  // and again, just above it
	sim.Add(tiedAt("tieC", 40, mid-3_700_000, mid+10_000)...) // a small cluster
	sim.Add(tiedAt("out", 30, mid-3_600_000, end+1)...)       // same date, created outside the range
	sim.AddTies(gen, time.UnixMilli(start), 25)               // on the range's edges
	sim.AddTies(gen, time.UnixMilli(end), 25)
	all := sim.Activities()

	tests := []struct {
		name    string
		filters map[string]any
		limit   int
		want    func(a *Activity) bool
	}{
		{"created range, default limit",
			map[string]any{"created": map[string]any{"range": map[string]any{"start": start, "end": end}}}, 0,
			func(a *Activity) bool { return a.Created >= start && a.Created <= end }},
		{"created gte+lte, limit 2000",
			map[string]any{"created": map[string]any{"gte": start, "lte": end}}, 2000,
			func(a *Activity) bool { return a.Created >= start && a.Created <= end }},
		{"created and date range and service",
			map[string]any{
				"created": map[string]any{"range": []any{map[string]any{"start": start, "end": end}}},
				"date":    map[string]any{"range": map[string]any{"start": ms(t0.Add(-5 * time.Hour)), "end": ms(t0.Add(-90 * time.Minute))}},
				"service": map[string]any{"neq": []int{20893}},
			}, 500,
			func(a *Activity) bool {
				return a.Created >= start && a.Created <= end && a.AppID != 20893 &&
					a.Timestamp >= ms(t0.Add(-5*time.Hour)) && a.Timestamp <= ms(t0.Add(-90*time.Minute))
			}},
		{"date lte already set", map[string]any{"date": map[string]any{"lte": mid - 3_600_000, "gte_ndays": 1}}, 500,
			func(a *Activity) bool {
				return a.Timestamp <= mid-3_600_000 && a.Timestamp >= ms(t0.Add(-24*time.Hour))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := map[string]int{}
			for i := range all {
				if tt.want(&all[i]) {
					want[all[i].ID] = 1
				}
			}
			body := map[string]any{"filters": tt.filters, "isScan": true}
			if tt.limit != 0 {
				body["limit"] = tt.limit
			}
			got := scanAll(t, srv, body)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("not every activity exactly once (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanNextQueryFilters(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	const ts = int64(1_740_000_000_000)
	created := ms(t0.Add(-time.Hour))
	// 499 distinct dates, then 5 sharing the 500th, then 100 older.
	for i := 0; i < 499; i++ {
		sim.Add(Activity{ID: fmt.Sprintf("26110511_15600_d-%03d", i), Created: created + int64(i), Timestamp: ts - int64(i)*1000, AppID: 15600})
	}
	boundary := ts - 499*1000
	sim.Add(tiedAt("b", 5, boundary, created+1000)...)
	sim.Add(tiedAt("old", 100, boundary-60_000, created+2000)...)

	filters := map[string]any{"created": map[string]any{"gte": created}, "service": map[string]any{"eq": []int{15600}}}
	p := list(t, srv, map[string]any{"filters": filters, "isScan": true, "limit": 500})
	if len(p.Data) != 499 || !p.HasNext {
		t.Fatalf("first page: %d records, hasNext %v; want 499 (the 500th date's records dropped), true", len(p.Data), p.HasNext)
	}
	var next map[string]any
	if err := json.Unmarshal(p.NextQueryFilters, &next); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"created": map[string]any{"gte": float64(created)},
		"service": map[string]any{"eq": []any{float64(15600)}},
		"date":    map[string]any{"lte": float64(boundary)},
	}
	if diff := cmp.Diff(want, next); diff != "" {
		t.Errorf("nextQueryFilters (-want +got):\n%s", diff)
	}
	p = list(t, srv, map[string]any{"filters": p.NextQueryFilters, "isScan": true, "limit": 500})
	if len(p.Data) != 105 || p.HasNext || p.NextQueryFilters != nil {
		t.Errorf("second page: %d records, hasNext %v, next %s; want 105, false, none", len(p.Data), p.HasNext, p.NextQueryFilters)
	}
}

func TestScanWholePageOneDate(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	const ts = int64(1_740_000_000_000)
	created := ms(t0.Add(-time.Hour))
	sim.Add(tiedAt("same", 1200, ts, created)...)
	sim.Add(tiedAt("older", 10, ts-1, created)...)
	p := list(t, srv, map[string]any{"isScan": true})
	if len(p.Data) != 1200 || !p.HasNext {
		t.Fatalf("first page: %d records, hasNext %v; want all 1200 of the one date, true", len(p.Data), p.HasNext)
	}
	if got, want := string(p.NextQueryFilters), fmt.Sprintf(`{"date":{"lte":%d}}`, ts-1); got != want {
		t.Errorf("nextQueryFilters %s, want %s", got, want)
	}
	p = list(t, srv, map[string]any{"filters": p.NextQueryFilters, "isScan": true})
	if len(p.Data) != 10 || p.HasNext {
		t.Errorf("second page: %d records, hasNext %v; want 10, false", len(p.Data), p.HasNext)
	}
}

// A tenant serving smaller scan pages than asked still lists everything
// once, MaxScanPage at a time.
func TestMaxScanPage(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 23, MaxScanPage: 500})
	sim.Backfill(NewGenerator(23), t0.Add(-2*time.Hour), t0.Add(-time.Hour), 1800)
	body := map[string]any{"filters": map[string]any{}, "isScan": true, "limit": 5000}
	r := do(t, srv, "POST", ListPath, testToken, body)
	var p struct {
		HasNext bool              `json:"hasNext"`
		Data    []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Data) > 500 || len(p.Data) < 400 || !p.HasNext {
		t.Errorf("first page: %d activities, hasNext %v; want at most 500 (and more to come) when asked for 5000", len(p.Data), p.HasNext)
	}
	want := map[string]int{}
	for _, a := range sim.Activities() {
		want[a.ID] = 1
	}
	if diff := cmp.Diff(want, scanAll(t, srv, body)); diff != "" {
		t.Errorf("not every activity exactly once (-want +got):\n%s", diff)
	}
}
