package timerhost

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ncrontab parses the host's six-field NCRONTAB format:
// {second} {minute} {hour} {day} {month} {day-of-week}.
var ncrontab = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Schedule is a parsed NCRONTAB expression evaluated in UTC, as the host
// does on Linux plans. The zero Schedule never fires.
type Schedule struct {
	expr string
	spec *cron.SpecSchedule
}

// ParseSchedule parses a six-field NCRONTAB expression
// ("{second} {minute} {hour} {day} {month} {day-of-week}", e.g.
// "0 */5 * * * *"). Five fields are accepted too, as newer hosts do, and mean
// second 0. Descriptors (@hourly), time zone prefixes and TimeSpan schedules
// ("00:05:00", App Service plans only) are rejected.
func ParseSchedule(expr string) (Schedule, error) {
	fields := strings.Fields(expr)
	switch {
	case len(fields) == 0:
		return Schedule{}, fmt.Errorf("schedule %q: empty NCRONTAB expression", expr)
	case strings.HasPrefix(fields[0], "@") || strings.Contains(fields[0], "="):
		return Schedule{}, fmt.Errorf("schedule %q: not an NCRONTAB expression (no descriptors or time zones)", expr)
	case len(fields) == 5:
		fields = append([]string{"0"}, fields...)
	case len(fields) != 6:
		return Schedule{}, fmt.Errorf("schedule %q: an NCRONTAB expression has 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), not %d", expr, len(fields))
	}
	s, err := ncrontab.Parse(strings.Join(fields, " "))
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("schedule %q: unsupported expression", expr)
	}
	spec.Location = time.UTC
	return Schedule{expr: strings.TrimSpace(expr), spec: spec}, nil
}

// Next returns the first occurrence strictly after t, in UTC, or the zero
// time if there is none within five years (e.g. "0 0 0 30 2 *").
func (s Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	n := s.spec.Next(t)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// String returns the expression as written.
func (s Schedule) String() string { return s.expr }

// subMinute reports whether the schedule fires more than once in the minute
// after now, the host's test for turning the schedule monitor off.
func (s Schedule) subMinute(now time.Time) bool {
	first := s.Next(now)
	if first.IsZero() {
		return false
	}
	second := s.Next(first)
	return !second.IsZero() && second.Before(now.Add(time.Minute))
}
