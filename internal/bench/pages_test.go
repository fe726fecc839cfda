package bench

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench/baseline"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// TestWritePagesRoundTrip pipes a tenant's activities through the baseline
// as the bench does and checks every one was worked on, page by page.
func TestWritePagesRoundTrip(t *testing.T) {
	sim := mcasapi.New(mcasapi.Options{Seed: 7})
	now := time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now, 1234)
	acts := sim.Activities()

	for _, tc := range []struct {
		pageSize, wantPages int
	}{
		{100, 13},
		{1000, 2},
		{1, 1234},
	} {
		var pipe bytes.Buffer
		if err := WritePages(&pipe, acts, tc.pageSize); err != nil {
			t.Fatal(err)
		}
		res, err := baseline.Run(&pipe)
		if err != nil {
			t.Fatalf("page size %d: %v", tc.pageSize, err)
		}
		if res.Activities != len(acts) || res.Pages != tc.wantPages || res.Batches < 1 || res.GzipBytes <= 0 || res.GzipBytes >= res.RowBytes {
			t.Errorf("page size %d: %+v, want %d activities in %d pages", tc.pageSize, res, len(acts), tc.wantPages)
		}
	}
}

// TestWritePagesEnvelope checks a page is the API's list envelope with the
// records exactly as the tenant renders them.
func TestWritePagesEnvelope(t *testing.T) {
	sim := mcasapi.New(mcasapi.Options{Seed: 7})
	now := time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now, 3)
	acts := sim.Activities()
	var pipe bytes.Buffer
	if err := WritePages(&pipe, acts, 2); err != nil {
		t.Fatal(err)
	}
	b := pipe.Bytes()
	for page, want := range []struct {
		hasNext bool
		acts    []mcasapi.Activity
	}{{true, acts[:2]}, {false, acts[2:]}} {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		var env struct {
			Total   int
			HasNext bool
			Data    []json.RawMessage
		}
		if err := json.Unmarshal(b[4:4+n], &env); err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if env.HasNext != want.hasNext || len(env.Data) != len(want.acts) {
			t.Errorf("page %d: hasNext %v with %d records, want %v with %d", page, env.HasNext, len(env.Data), want.hasNext, len(want.acts))
		}
		for i := range env.Data {
			if !bytes.Equal(env.Data[i], want.acts[i].Record()) {
				t.Errorf("page %d record %d differs from the tenant's rendering", page, i)
			}
		}
		b = b[4+n:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the last page", len(b))
	}
	if err := WritePages(&pipe, acts, 0); err == nil {
		t.Error("WritePages with page size 0: no error")
	}
}
