package soak

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/ingestion"
)

// A short soak through the real handler: live traffic, random faults on both
// stand-ins and SIGKILLs mid-run; afterwards nothing is lost and the only
// duplicates are rows a killed handler had uploaded.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the handler for about 30 s")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	handler := filepath.Join(t.TempDir(), "handler")
	build := exec.Command("go", "build", "-o", handler, "./handler")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}

	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		AppRoot:   repo,
		Handler:   handler,
		Duration:  15 * time.Second,
		Rate:      60,
		Schedule:  "*/2 * * * * *",
		Settle:    2 * time.Second,
		RPM:       120,
		FaultRate: 0.3,
		KillEvery: 4 * time.Second,
		Seed:      20261129, // faults on the first requests to both stand-ins
		Out:       &out,
	})
	if rep != nil {
		rep.Print(&out)
	}
	t.Log(out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Lost != 0 || rep.DupUnexplained != 0 || rep.Unexpected != 0 {
		t.Errorf("lost %d %v, unexplained duplicates %d %v, unexpected %d", rep.Lost, rep.LostIDs, rep.DupUnexplained, rep.DupIDs, rep.Unexpected)
	}
	if rep.Simulated < 300 || rep.Delivered != rep.Simulated {
		t.Errorf("delivered %d of %d simulated, want all of at least 300", rep.Delivered, rep.Simulated)
	}
	if len(rep.Kills) == 0 {
		t.Errorf("no kill in the first half of 15 s with one every ~4 s")
	}
	if len(rep.APIFaults) == 0 || len(rep.IngestionFaults) == 0 {
		t.Errorf("faults injected: API %v, ingestion %v; want some on both", rep.APIFaults, rep.IngestionFaults)
	}
	if rep.HealthRows == 0 || rep.MaxLag <= 0 {
		t.Errorf("%d health rows, max lag %s: the lag was not measured", rep.HealthRows, rep.MaxLag)
	}
	if rep.TokenLeaks != 0 {
		t.Errorf("the token leaked %d times", rep.TokenLeaks)
	}
}

func TestAllowance(t *testing.T) {
	const act, health = "Custom-A", "Custom-H"
	ups := []ingestion.Upload{
		{Stream: act, Rows: 2},    // 0: a, b
		{Stream: health, Rows: 1}, // 1
		{Stream: act, Rows: 3},    // 2: c, d, e
		{Stream: health, Rows: 1}, // 3
		{Stream: act, Rows: 1},    // 4: f
		{Stream: act, Rows: 2},    // 5: c, d (sent again)
	}
	ids := []string{"a", "b", "c", "d", "e", "f", "c", "d"}
	tests := []struct {
		name  string
		kills []kill
		want  map[string]int
	}{
		{"no kill", nil, map[string]int{}},
		{"killed after its second upload", []kill{{From: 0, To: 2}}, map[string]int{"a": 1, "b": 1}},
		{"the last upload is the activity one before a health row", []kill{{From: 0, To: 4}}, map[string]int{"c": 1, "d": 1, "e": 1}},
		{"killed before uploading anything", []kill{{From: 1, To: 2}}, map[string]int{}},
		{"two kills", []kill{{From: 0, To: 3}, {From: 3, To: 5}}, map[string]int{"c": 1, "d": 1, "e": 1, "f": 1}},
		{"bounds past the end are clipped", []kill{{From: 5, To: 9}}, map[string]int{"c": 1, "d": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, allowance(ups, ids, act, tt.kills)); diff != "" {
				t.Errorf("allowance (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAccount(t *testing.T) {
	tests := []struct {
		name      string
		simulated []string
		delivered []string
		allow     map[string]int
		want      Accounting
	}{
		{
			name:      "exactly once",
			simulated: []string{"a", "b"},
			delivered: []string{"b", "a"},
			want:      Accounting{Simulated: 2, Delivered: 2, Rows: 2},
		},
		{
			name:      "lost",
			simulated: []string{"a", "b", "c"},
			delivered: []string{"a"},
			want:      Accounting{Simulated: 3, Delivered: 1, Rows: 1, Lost: 2, LostIDs: []string{"b", "c"}},
		},
		{
			name:      "a duplicate a kill explains",
			simulated: []string{"a", "b"},
			delivered: []string{"a", "b", "a"},
			allow:     map[string]int{"a": 1},
			want:      Accounting{Simulated: 2, Delivered: 2, Rows: 3, DupAllowed: 1},
		},
		{
			name:      "more copies than kills explain",
			simulated: []string{"a"},
			delivered: []string{"a", "a", "a"},
			allow:     map[string]int{"a": 1},
			want:      Accounting{Simulated: 1, Delivered: 1, Rows: 3, DupAllowed: 1, DupUnexplained: 1, DupIDs: []string{"a×3"}},
		},
		{
			name:      "a duplicate nothing explains",
			simulated: []string{"a", "b"},
			delivered: []string{"a", "b", "b"},
			allow:     map[string]int{"a": 1},
			want:      Accounting{Simulated: 2, Delivered: 2, Rows: 3, DupUnexplained: 1, DupIDs: []string{"b×2"}},
		},
		{
			name:      "rows never simulated",
			simulated: []string{"a"},
			delivered: []string{"a", "z", ""},
			want:      Accounting{Simulated: 1, Delivered: 1, Rows: 3, Unexpected: 2, UnexpectedIDs: []string{`""`, `"z"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, account(tt.simulated, tt.delivered, tt.allow)); diff != "" {
				t.Errorf("account (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViolations(t *testing.T) {
	ok := Report{Drained: true, RPM: 30, MaxCallsPerMin: 30, Accounting: Accounting{Simulated: 5, Delivered: 5, Rows: 6, DupAllowed: 1}}
	tests := []struct {
		name   string
		change func(*Report)
		want   string // "" for none
	}{
		{"allowed duplicates pass", func(*Report) {}, ""},
		{"lost", func(r *Report) { r.Lost, r.LostIDs = 1, []string{"x"} }, "1 activities lost (e.g. x)"},
		{"unexplained duplicate", func(r *Report) { r.DupUnexplained = 2 }, "2 unexplained duplicate rows"},
		{"rate limit", func(r *Report) { r.MaxCallsPerMin = 31 }, "31 API calls within 60 s, limit 30"},
		{"not drained", func(r *Report) { r.Drained, r.DrainError = false, "timeout" }, "not drained: timeout"},
		{"token leak", func(r *Report) { r.TokenLeaks = 1 }, "the API token appeared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.change(&r)
			v := strings.Join(r.Violations(), "; ")
			if tt.want == "" && v != "" || !strings.Contains(v, tt.want) {
				t.Errorf("Violations() = %q, want %q", v, tt.want)
			}
			var out bytes.Buffer
			r.Print(&out)
			if pass := strings.Contains(out.String(), "PASS"); pass != (tt.want == "") {
				t.Errorf("Print says PASS = %v with violations %q:\n%s", pass, v, out.String())
			}
		})
	}
}
