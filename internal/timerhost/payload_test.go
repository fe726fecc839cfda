package timerhost

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	guidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	dotnetRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?\+00:00$`)
	utcNowRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$`)
)

func TestFormatDotnet(t *testing.T) {
	tests := []struct {
		in        time.Time
		want, utc string
	}{
		{time.Time{}, "0001-01-01T00:00:00", "0001-01-01T00:00:00Z"},
		{time.Date(2026, 9, 24, 13, 8, 0, 9603500, time.UTC), "2026-09-24T13:08:00.0096035+00:00", "2026-09-24T13:08:00.0096035Z"},
		{time.Date(2026, 9, 24, 13, 9, 0, 0, time.UTC), "2026-09-24T13:09:00+00:00", "2026-09-24T13:09:00Z"},
		// .NET ticks are 100 ns: finer digits are cut, trailing zeros dropped.
		{time.Date(2026, 9, 24, 13, 9, 0, 123456789, time.UTC), "2026-09-24T13:09:00.1234567+00:00", "2026-09-24T13:09:00.1234567Z"},
		{time.Date(2026, 9, 24, 13, 9, 0, 500000000, time.UTC), "2026-09-24T13:09:00.5+00:00", "2026-09-24T13:09:00.5Z"},
		{time.Date(2026, 9, 24, 15, 9, 0, 0, time.FixedZone("CEST", 2*3600)), "2026-09-24T13:09:00+00:00", "2026-09-24T13:09:00Z"},
	}
	for _, tt := range tests {
		if got := formatDotnet(tt.in); got != tt.want {
			t.Errorf("formatDotnet(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in.IsZero() {
			continue
		}
		if got := formatUtcNow(tt.in); got != tt.utc {
			t.Errorf("formatUtcNow(%v) = %q, want %q", tt.in, got, tt.utc)
		}
	}
}

func TestTimerPayload(t *testing.T) {
	sched, err := ParseSchedule("0 */5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 9, 24, 13, 10, 0, 12345600, time.UTC)
	last := time.Date(2026, 9, 24, 13, 5, 0, 9603500, time.UTC)
	next := time.Date(2026, 9, 24, 13, 10, 0, 0, time.UTC)
	tests := []struct {
		name    string
		fn      Function
		status  *scheduleStatus
		pastDue bool
		want    string
	}{
		{
			name:   "first run",
			fn:     Function{Name: "MCASTimerTrigger", BindingName: "timer", Schedule: sched, UseMonitor: true},
			status: &scheduleStatus{Next: dotnetTime(next)},
			want: `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-09-24T13:10:00+00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}},` +
				`"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-09-24T13:10:00.0123456Z","RandGuid":"<guid>"}}}`,
		},
		{
			name:    "later run, past due",
			fn:      Function{Name: "MCASTimerTrigger", BindingName: "timer", Schedule: sched, UseMonitor: true},
			status:  &scheduleStatus{Last: dotnetTime(last), Next: dotnetTime(next), LastUpdated: dotnetTime(last)},
			pastDue: true,
			want: `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-09-24T13:05:00.0096035+00:00","Next":"2026-09-24T13:10:00+00:00","LastUpdated":"2026-09-24T13:05:00.0096035+00:00"},"IsPastDue":true}},` +
				`"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-09-24T13:10:00.0123456Z","RandGuid":"<guid>"}}}`,
		},
		{
			name: "no monitor",
			fn:   Function{Name: "Other", BindingName: "myTimer", Schedule: sched},
			want: `{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},` +
				`"Metadata":{"sys":{"MethodName":"Other","UtcNow":"2026-09-24T13:10:00.0123456Z","RandGuid":"<guid>"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := timerPayload(tt.fn, tt.status, tt.pastDue, now)
			if err != nil {
				t.Fatal(err)
			}
			var req struct {
				Metadata struct {
					Sys sysMetadata `json:"sys"`
				}
			}
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			guid := req.Metadata.Sys.RandGuid
			if !guidRE.MatchString(guid) {
				t.Errorf("RandGuid = %q, want a v4 GUID", guid)
			}
			got := regexp.MustCompile(regexp.QuoteMeta(guid)).ReplaceAllString(string(b), "<guid>")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("payload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewGUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		g := newGUID()
		if !guidRE.MatchString(g) || seen[g] {
			t.Fatalf("newGUID() = %q: not a fresh v4 GUID", g)
		}
		seen[g] = true
	}
	if tp := traceparent(); !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`).MatchString(tp) {
		t.Errorf("traceparent() = %q", tp)
	}
}

func TestFormatTimeSpan(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{2 * time.Second, "00:00:02"},
		{9 * time.Minute, "00:09:00"},
		{26*time.Hour + 3*time.Minute + 4*time.Second, "1.02:03:04"},
	}
	for _, tt := range tests {
		if got := formatTimeSpan(tt.in); got != tt.want {
			t.Errorf("formatTimeSpan(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
