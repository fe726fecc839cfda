package bench

import (
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// evenCalls makes n answered list calls every gap, each returning rows(i).
func evenCalls(n int, gap time.Duration, rows func(i int) int) []mcasapi.Call {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	out := make([]mcasapi.Call, n)
	for i := range out {
		out[i] = mcasapi.Call{Time: t0.Add(time.Duration(i) * gap), Path: mcasapi.ListPath, Status: http.StatusOK, Rows: rows(i)}
	}
	return out
}

func TestSteadyState(t *testing.T) {
	full := func(int) int { return 100 }
	for _, tc := range []struct {
		name      string
		calls     []mcasapi.Call
		wantRate  float64
		wantCalls int
		wantErr   bool
	}{
		{
			name:      "even pace: 100 rows every 100 ms is 1000 a second",
			calls:     evenCalls(50, 100*time.Millisecond, full),
			wantRate:  1000,
			wantCalls: 44, // from call 5 (the first tenth) to call 49
		},
		{
			name: "the drained tail is left out",
			calls: evenCalls(50, 100*time.Millisecond, func(i int) int {
				if i >= 45 {
					return 7
				}
				return 100
			}),
			wantRate:  1000,
			wantCalls: 39,
		},
		{
			name: "a slow start is left out, a stall in the middle counts",
			calls: func() []mcasapi.Call {
				cs := evenCalls(100, 100*time.Millisecond, full)
				cs[0].Time = cs[0].Time.Add(-5 * time.Second) // start-up
				for i := 60; i < 100; i++ {
					cs[i].Time = cs[i].Time.Add(time.Second) // one stall of a second
				}
				return cs
			}(),
			wantRate:  100 * 89 / (8.9 + 1),
			wantCalls: 89,
		},
		{
			name: "throttled and other calls take no part",
			calls: func() []mcasapi.Call {
				cs := evenCalls(50, 100*time.Millisecond, full)
				extra := []mcasapi.Call{
					{Time: cs[20].Time.Add(time.Millisecond), Path: mcasapi.ListPath, Status: http.StatusTooManyRequests, Throttled: true},
					{Time: cs[21].Time.Add(time.Millisecond), Path: mcasapi.ListPath + "x/", Status: http.StatusOK, Rows: 1},
				}
				return append(cs, extra...)
			}(),
			wantRate:  1000,
			wantCalls: 44,
		},
		{
			name: "calls recorded out of order are sorted",
			calls: func() []mcasapi.Call {
				cs := evenCalls(50, 100*time.Millisecond, full)
				cs[10], cs[11] = cs[11], cs[10]
				return cs
			}(),
			wantRate:  1000,
			wantCalls: 44,
		},
		{name: "too few full pages", calls: evenCalls(3, 100*time.Millisecond, full), wantErr: true},
		{name: "no calls", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := steadyState(tc.calls, 100)
			if tc.wantErr {
				if !errors.Is(err, errNoSteadyState) {
					t.Errorf("err = %v, want errNoSteadyState", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Rate-tc.wantRate) > 0.01*tc.wantRate || s.Calls != tc.wantCalls {
				t.Errorf("rate %.1f over %d calls, want %.1f over %d", s.Rate, s.Calls, tc.wantRate, tc.wantCalls)
			}
			if s.GapP50 <= 0 || s.GapP90 < s.GapP50 || s.GapMax < s.GapP90 {
				t.Errorf("gaps p50 %s p90 %s max %s", s.GapP50, s.GapP90, s.GapMax)
			}
		})
	}
}

func TestOverallRate(t *testing.T) {
	calls := evenCalls(11, 100*time.Millisecond, func(i int) int { return 50 })
	if got := overallRate(calls); math.Abs(got-550) > 0.01 {
		t.Errorf("overallRate = %v, want 550 (550 rows in 1 s)", got)
	}
	if got := overallRate(nil); got != 0 {
		t.Errorf("overallRate(nil) = %v, want 0", got)
	}
}
