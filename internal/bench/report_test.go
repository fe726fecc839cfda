package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedianAndSpread(t *testing.T) {
	for _, tc := range []struct {
		xs         []float64
		wantMedian float64
		wantSpread string
	}{
		{nil, 0, "0.0"},
		{[]float64{3}, 3, "3.0"},
		{[]float64{3, 1, 2}, 2, "2.0 (1.0–3.0)"},
		{[]float64{4, 1, 3, 2}, 2.5, "2.5 (1.0–4.0)"},
	} {
		if got := median(tc.xs); got != tc.wantMedian {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.wantMedian)
		}
		if got := spread(tc.xs, "%.1f"); got != tc.wantSpread {
			t.Errorf("spread(%v) = %q, want %q", tc.xs, got, tc.wantSpread)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 100_000: "100k", 2500: "2500", 1500: "1500", 10_000: "10k", 999: "999"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPer100k(t *testing.T) {
	if got := per100k(2*time.Second, 10_000); got != 20*time.Second {
		t.Errorf("per100k(2s, 10k) = %s, want 20s", got)
	}
}

// TestSummaryVerdicts checks each target's verdict from made-up measurements.
func TestSummaryVerdicts(t *testing.T) {
	pace := func(rate float64, throttled, inWindow int) PaceRep {
		return PaceRep{Ceiling: 1000, Limit: 60, Window: 6 * time.Second, Steady: Steady{Rate: rate}, Throttle: throttled, MaxInWindow: inWindow,
			Delivery: Delivery{Expected: 10, Rows: 10}}
	}
	cost := func(cpu, base time.Duration, rss int64) CostRep {
		return CostRep{Handler: drained{Usage: usage{CPU: cpu, MaxRSS: rss}}, Baseline: usage{CPU: base}, Delivery: Delivery{Expected: 1, Rows: 1}}
	}
	for _, tc := range []struct {
		name string
		rep  Report
		want map[string]string // target prefix → verdict
	}{
		{
			name: "all met",
			rep: Report{
				Pace:  []PaceRep{pace(980, 0, 60), pace(975, 0, 59), pace(990, 0, 60)},
				Cost:  []CostSize{{Backlog: 10_000, Reps: []CostRep{cost(12*time.Second, 10*time.Second, 25e6)}}, {Backlog: 100_000, Reps: []CostRep{cost(11*time.Second, 10*time.Second, 27e6)}}},
				Ready: []time.Duration{20 * time.Millisecond, 30 * time.Millisecond, 25 * time.Millisecond},
			},
			want: map[string]string{"throughput": "yes", "429s": "yes", "calls in any": "yes", "handler CPU": "yes", "handler peak RSS": "yes", "peak RSS flat": "yes", "ready": "yes", "every activity": "yes"},
		},
		{
			name: "all missed",
			rep: Report{
				Pace:  []PaceRep{pace(900, 2, 61)},
				Cost:  []CostSize{{Backlog: 10_000, Reps: []CostRep{cost(15*time.Second, 10*time.Second, 30e6)}}, {Backlog: 1_000_000, Reps: []CostRep{cost(13*time.Second, 10*time.Second, 45e6)}}},
				Ready: []time.Duration{150 * time.Millisecond},
			},
			want: map[string]string{"throughput": "**no**", "429s": "**no**", "calls in any": "**no**", "handler CPU": "**no**", "handler peak RSS": "**no**", "peak RSS flat": "**no**", "ready": "**no**", "every activity": "**no**"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, row := range tc.rep.Summary().rows {
				for prefix := range tc.want {
					if strings.HasPrefix(row[0], prefix) {
						got[prefix] = row[2]
					}
				}
			}
			for prefix, want := range tc.want {
				if got[prefix] != want {
					t.Errorf("%q: verdict %q, want %q", prefix, got[prefix], want)
				}
			}
		})
	}
}

// TestScanTable checks the scan comparison's rows: each against list mode,
// and a lost activity or a 429 in a scan run counted as a failure.
func TestScanTable(t *testing.T) {
	run := func(scan bool, page int, rate float64, throttled, rows int) PaceRep {
		return PaceRep{Backlog: page * 40, Scan: scan, PageSize: page, RPM: 60, Limit: 6, Window: 6 * time.Second, Ceiling: float64(page),
			Steady: Steady{Rate: rate}, Throttle: throttled, Delivery: Delivery{Expected: page * 40, Rows: rows},
			Handler: drained{Usage: usage{CPU: time.Duration(page) * 40 * 120 * time.Microsecond, MaxRSS: 30e6}}}
	}
	rep := Report{Config: Config{Reps: 1}, Scan: []ScanSet{
		{PageSize: 100, Reps: []PaceRep{run(false, 100, 99, 0, 4000)}},
		{Scan: true, PageSize: 500, Reps: []PaceRep{run(true, 500, 495, 0, 20000)}},
		{Scan: true, PageSize: 5000, Reps: []PaceRep{run(true, 5000, 2970, 1, 199_999)}},
	}}
	var got [][]string
	for _, row := range rep.ScanTable().rows {
		got = append(got, []string{row[0], row[6], row[7], row[9], row[11]})
	}
	want := [][]string{
		{"list mode, 100 a call", "1.0×", "0.990", "12.00", "yes"},
		{"scan mode, 500 a call", "5.0×", "0.990", "12.00", "yes"},
		{"scan mode, 5000 a call", "30.0×", "0.594", "12.00", "**no**"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scan table (mode, × list, ratio, CPU-s/100k, exactly once) (-want +got):\n%s", diff)
	}
	failures := strings.Join(rep.Failures(), "\n")
	for _, want := range []string{"scan comparison, scan mode, 5000 a call, repetition 1: the tenant answered 1 calls 429", "scan comparison, scan mode, 5000 a call, repetition 1: "} {
		if !strings.Contains(failures, want) {
			t.Errorf("failures %q do not name %q", failures, want)
		}
	}
}

// TestStartupApart: a size whose raw ratio misses the target because of each
// process's start-up is shown, in its own row and column, with the start-up
// medians taken off both programs, and judged on that too.
func TestStartupApart(t *testing.T) {
	cost := func(cpu, base time.Duration) CostRep {
		return CostRep{Handler: drained{Usage: usage{CPU: cpu, MaxRSS: 20e6}}, Baseline: usage{CPU: base}, Delivery: Delivery{Expected: 1, Rows: 1}}
	}
	rep := Report{
		Cost: []CostSize{
			{Backlog: 10_000, Reps: []CostRep{cost(1300*time.Millisecond, 1000*time.Millisecond)}},
			{Backlog: 100_000, Reps: []CostRep{cost(13*time.Second, 10*time.Second)}},
		},
		Startup: []CostRep{cost(140*time.Millisecond, 40*time.Millisecond), cost(150*time.Millisecond, 30*time.Millisecond), cost(400*time.Millisecond, 20*time.Millisecond)},
	}
	rows := map[string][]string{}
	for _, row := range rep.Summary().rows {
		rows[strings.SplitN(row[0], " (", 2)[0]] = row
	}
	raw, apart := rows["handler CPU ≤ 1.25 × baseline"], rows["the same, each program's start-up apart"]
	if raw == nil || apart == nil {
		t.Fatalf("summary rows: %v", rep.Summary().rows)
	}
	// Medians: 150 ms and 30 ms. 10k: (1300-150)/(1000-30) = 1.19; 100k: (13000-150)/(10000-30) = 1.29.
	if want := "1.30× at 10k, 1.30× at 100k"; raw[1] != want || raw[2] != "**no**" {
		t.Errorf("raw row %q, %q; want %q, **no**", raw[1], raw[2], want)
	}
	if want := "1.19× at 10k, 1.29× at 100k"; apart[1] != want || apart[2] != "**no**" {
		t.Errorf("start-up apart row %q, %q; want %q, **no**", apart[1], apart[2], want)
	}
	if !strings.Contains(apart[0], "150 and 30 ms") {
		t.Errorf("start-up apart row names %q, want the medians 150 and 30 ms", apart[0])
	}
	ct := rep.CostTable()
	if got := ct.rows[0][4]; got != "1.19" {
		t.Errorf("cost table, 10k, start-up apart = %q, want 1.19", got)
	}
	if st := rep.StartupTable(); len(st.rows) != 1 || st.rows[0][1] != "150 (140–400)" || st.rows[0][2] != "30 (20–40)" {
		t.Errorf("start-up table rows %v", st.rows)
	}
}

// TestHeaderNamesTheVariant: a report of a handler built or run differently
// from the one that ships says so, so its figures are not taken for it.
func TestHeaderNamesTheVariant(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for no variant line
	}{
		{"as shipped", Config{Reps: 3}, ""},
		{"tags", Config{Reps: 3, HandlerTags: []string{"notimerslack"}}, "Handler variant: built with -tags notimerslack."},
		{"tags and environment", Config{Reps: 3, HandlerTags: []string{"a", "b"}, HandlerEnv: []string{"GOMAXPROCS=2", "GOGC=50"}},
			"Handler variant: built with -tags a,b, run with GOMAXPROCS=2 GOGC=50."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := Report{Config: tc.cfg}
			var got string
			for _, l := range rep.header() {
				if strings.HasPrefix(l, "Handler variant") {
					got = l
				}
			}
			if got != tc.want {
				t.Errorf("variant line = %q, want %q", got, tc.want)
			}
		})
	}
}
