package timerhost

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSchedule(t *testing.T) {
	base := time.Date(2026, 9, 24, 13, 8, 30, 500, time.UTC)
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr string
		from time.Time
		want []time.Time // the next occurrences after from
	}{
		{"0 */5 * * * *", base, []time.Time{utc("2026-09-24T13:10:00Z"), utc("2026-09-24T13:15:00Z")}},
		{"*/5 * * * *", base, []time.Time{utc("2026-09-24T13:10:00Z"), utc("2026-09-24T13:15:00Z")}},
		{"* * * * * *", base, []time.Time{utc("2026-09-24T13:08:31Z"), utc("2026-09-24T13:08:32Z")}},
		{"*/30 * * * * *", base, []time.Time{utc("2026-09-24T13:09:00Z"), utc("2026-09-24T13:09:30Z")}},
		{"0 30 9 * * 1-5", base, []time.Time{utc("2026-09-25T09:30:00Z"), utc("2026-09-28T09:30:00Z")}},
		{"0 0 0 1 Jan *", base, []time.Time{utc("2027-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z")}},
		// The schedule is UTC whatever the zone of the time it starts from.
		{"0 0 12 * * *", base.In(time.FixedZone("UTC+5", 5*3600)), []time.Time{utc("2026-09-25T12:00:00Z"), utc("2026-09-26T12:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := ParseSchedule(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Time
			for at := tt.from; len(got) < len(tt.want); {
				at = s.Next(at)
				got = append(got, at)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("occurrences mismatch (-want +got):\n%s", diff)
			}
			for _, g := range got {
				if g.Location() != time.UTC {
					t.Errorf("Next() = %v, want UTC", g)
				}
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"0 0 * * * * *", "6 fields"},
		{"* * * *", "6 fields"},
		{"@hourly", "no descriptors"},
		{"CRON_TZ=Europe/Paris 0 0 * * * *", "no descriptors or time zones"},
		{"60 * * * * *", "schedule"},
		{"0 0 25 * * *", "schedule"},
		{"0 0 0 * 13 *", "schedule"},
		{"0 0 0 * * 8", "schedule"},
		{"a b c d e f", "schedule"},
		{"00:05:00", "6 fields"},
	}
	for _, tt := range tests {
		_, err := ParseSchedule(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q) error = %v, want one containing %q", tt.expr, err, tt.want)
		}
	}
}

func TestScheduleSubMinute(t *testing.T) {
	now := time.Date(2026, 9, 24, 13, 8, 30, 250e6, time.UTC)
	tests := []struct {
		expr string
		want bool
	}{
		{"* * * * * *", true},
		{"*/30 * * * * *", true},
		{"0 * * * * *", false},
		{"0 */5 * * * *", false},
		{"0 0 0 30 2 *", false}, // never fires
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.subMinute(now); got != tt.want {
			t.Errorf("%q.subMinute() = %v, want %v", tt.expr, got, tt.want)
		}
	}
	if got := (Schedule{}).Next(now); !got.IsZero() {
		t.Errorf("zero Schedule.Next() = %v, want the zero time", got)
	}
}
