package sentinel

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// MaxErrorMessageBytes is where Health.ErrorMessage is cut (the health
// schema's overflow rule).
const MaxErrorMessageBytes = 4096

// Health is what one invocation reports about itself: one row of the health
// table. Empty strings and zero times leave their column out; numbers and
// booleans are always written.
type Health struct {
	InvocationID        string
	APIHost             string
	Outcome             string // success, partial or failure
	ErrorClass          string
	ErrorMessage        string // cut at MaxErrorMessageBytes; the token must already be redacted
	ActivitiesForwarded int64
	Uploads             int
	APICalls            int
	APIThrottled        int
	CheckpointCreated   time.Time
	ScannedTo           time.Time
	LagSeconds          float64 // left out while ScannedTo is zero: there is nothing to lag behind
	MoreToDo            bool
	DurationMs          int64
	SkippedReason       string
	Version             string
	End                 time.Time // when the invocation finished: the row's TimeGenerated, so always set it
}

type healthKind uint8

const (
	healthString healthKind = iota + 1
	healthInt
	healthReal
	healthBool
	healthTime
)

// healthSource is the extractor for one health schema source; exactly the
// getter matching kind is set.
type healthSource struct {
	kind healthKind
	max  int // for strings: cut here (0: the table's field limit)
	str  func(*Health) string
	num  func(*Health) int64
	real func(*Health) (float64, bool)
	flag func(*Health) bool
	when func(*Health) time.Time
}

func healthStr(get func(*Health) string) healthSource {
	return healthSource{kind: healthString, str: get}
}

func healthNum(get func(*Health) int64) healthSource {
	return healthSource{kind: healthInt, num: get}
}

func healthTimeOf(get func(*Health) time.Time) healthSource {
	return healthSource{kind: healthTime, when: get}
}

// healthSources maps every health schema source to a Health field.
var healthSources = map[string]healthSource{
	"invocationId": healthStr(func(h *Health) string { return h.InvocationID }),
	"apiHost":      healthStr(func(h *Health) string { return h.APIHost }),
	"outcome":      healthStr(func(h *Health) string { return h.Outcome }),
	"errorClass":   healthStr(func(h *Health) string { return h.ErrorClass }),
	"errorMessage": {kind: healthString, max: MaxErrorMessageBytes,
		str: func(h *Health) string { return h.ErrorMessage }},
	"activitiesForwarded": healthNum(func(h *Health) int64 { return h.ActivitiesForwarded }),
	"uploads":             healthNum(func(h *Health) int64 { return int64(h.Uploads) }),
	"apiCalls":            healthNum(func(h *Health) int64 { return int64(h.APICalls) }),
	"apiThrottled":        healthNum(func(h *Health) int64 { return int64(h.APIThrottled) }),
	"checkpointCreated":   healthTimeOf(func(h *Health) time.Time { return h.CheckpointCreated }),
	"scannedTo":           healthTimeOf(func(h *Health) time.Time { return h.ScannedTo }),
	"lagSeconds": {kind: healthReal,
		real: func(h *Health) (float64, bool) { return h.LagSeconds, !h.ScannedTo.IsZero() }},
	"moreToDo":      {kind: healthBool, flag: func(h *Health) bool { return h.MoreToDo }},
	"durationMs":    healthNum(func(h *Health) int64 { return h.DurationMs }),
	"skippedReason": healthStr(func(h *Health) string { return h.SkippedReason }),
	"version":       healthStr(func(h *Health) string { return h.Version }),
	"end":           healthTimeOf(func(h *Health) time.Time { return h.End }),
}

func (s healthSource) accepts(typ string) bool {
	switch s.kind {
	case healthString:
		return typ == schema.TypeString
	case healthInt:
		return typ == schema.TypeInt || typ == schema.TypeLong
	case healthReal:
		return typ == schema.TypeReal
	case healthBool:
		return typ == schema.TypeBoolean
	case healthTime:
		return typ == schema.TypeDateTime
	}
	return false
}

type healthColumn struct {
	prefix []byte // `"Name":`
	typ    string
	src    healthSource
}

// HealthRowBuilder turns Health values into rows of the health table. It is
// immutable and safe for concurrent use.
type HealthRowBuilder struct {
	columns []healthColumn
}

// NewHealthRowBuilder compiles the row layout of t, normally schema.Health().
// It fails, naming every offending column, when a column's source is not a
// Health field or the field cannot produce the column's type.
func NewHealthRowBuilder(t *schema.Table) (*HealthRowBuilder, error) {
	b := &HealthRowBuilder{}
	var errs []error
	for _, c := range t.Columns {
		src, ok := healthSources[c.Source]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("column %s: source %q is not a field of sentinel.Health", c.Name, c.Source))
			continue
		case !src.accepts(c.Type):
			errs = append(errs, fmt.Errorf("column %s: source %q cannot fill a column of type %s", c.Name, c.Source, c.Type))
			continue
		}
		if src.kind == healthString && (src.max == 0 || src.max > t.FieldLimitBytes) {
			src.max = t.FieldLimitBytes
		}
		b.columns = append(b.columns, healthColumn{
			prefix: append(appendJSONString(nil, c.Name), ':'),
			typ:    c.Type,
			src:    src,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("health row layout from schema %s: %w", t.Table, err)
	}
	return b, nil
}

// AppendHealthRow appends the row for h to dst and returns the extended buffer.
func (b *HealthRowBuilder) AppendHealthRow(dst []byte, h *Health) []byte {
	dst = append(dst, '{')
	first := true
	for _, c := range b.columns {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, c.prefix...)
		var ok bool
		dst, ok = c.appendValue(dst, h)
		if !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}')
}

func (c healthColumn) appendValue(dst []byte, h *Health) ([]byte, bool) {
	s := c.src
	switch s.kind {
	case healthString:
		v := s.str(h)
		if v == "" {
			return dst, false
		}
		// Error messages may quote arbitrary bytes from a server's answer.
		v = strings.ToValidUTF8(v, "\uFFFD")
		return appendJSONString(dst, cutUTF8(v, s.max)), true
	case healthInt:
		v := s.num(h)
		if c.typ == schema.TypeInt && (v < math.MinInt32 || v > math.MaxInt32) {
			return dst, false
		}
		return strconv.AppendInt(dst, v, 10), true
	case healthReal:
		v, ok := s.real(h)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, false
		}
		return strconv.AppendFloat(dst, v, 'f', -1, 64), true
	case healthBool:
		return strconv.AppendBool(dst, s.flag(h)), true
	case healthTime:
		t := s.when(h)
		if y := t.UTC().Year(); t.IsZero() || y < 1 || y > 9999 {
			return dst, false
		}
		return appendTime(dst, t), true
	}
	return dst, false
}
