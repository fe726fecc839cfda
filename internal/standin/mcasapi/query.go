package mcasapi

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging limits (reference §2.1, §2.3).
const (
	defaultLimit = 100
	maxLimit     = 100
	scanDefault  = 500
	scanMin      = 500
	scanMax      = 5000
)

const (
	sortDate    = "date"
	sortCreated = "created"
)

// query is a validated list request.
type query struct {
	sortField string
	desc      bool
	skip      int
	limit     int
	scan      bool
	filters   map[string]json.RawMessage // as sent, for nextQueryFilters

	preds                []func(*Activity) bool
	createdLo, createdHi int64 // every match has lo <= created <= hi

	// reorder, when not 0, seeds this call's order among activities that
	// share the sort key (see Options.ReorderTies).
	reorder uint64
}

// defaultQuery is what the API does with no body: the 100 most recent by
// date. A client that leaves out sortField or sortDirection gets this order.
func defaultQuery() query {
	return query{
		sortField: sortDate,
		desc:      true,
		limit:     defaultLimit,
		createdLo: math.MinInt64,
		createdHi: math.MaxInt64,
	}
}

// formError is one entry of a validation error body (reference sample 5).
type formError struct {
	param string // the body parameter: "filters", "limit", ...
	msg   string
	value string
}

// formErrorBody renders errors as the API does:
// {"filters":[{"error":..,"errorMessageCode":..,"errorMessageParams":{"value":..}}],"error":true}.
func formErrorBody(errs []formError) []byte {
	var w jw
	w.obj("")
	var params []string
	for _, e := range errs {
		if !slices.Contains(params, e.param) {
			params = append(params, e.param)
		}
	}
	for _, p := range params {
		w.arr(p)
		for _, e := range errs {
			if e.param != p {
				continue
			}
			w.obj("")
			w.str("error", e.msg)
			w.str("errorMessageCode", "CONSOLE_FORMS_NOT_VALID_VALUE")
			w.obj("errorMessageParams")
			w.str("value", e.value)
			w.end()
			w.end()
		}
		w.endArr()
	}
	w.boolean("error", true)
	w.end()
	return w.b
}

// shown is a raw value as quoted in an error message, cut short.
func shown(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

// parseQuery validates a list request body at now (the ndays operators are
// relative to it). Keys are matched exactly; unknown ones are ignored.
func parseQuery(body []byte, now time.Time) (query, []formError) {
	q := defaultQuery()
	if len(bytes.TrimSpace(body)) == 0 {
		return q, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return q, []formError{{"body", "request body is not a JSON object", shown(body)}}
	}
	var errs []formError
	bad := func(param string, raw json.RawMessage) {
		errs = append(errs, formError{param, shown(raw) + " is not valid", shown(raw)})
	}
	if raw, ok := top["isScan"]; ok && !isNull(raw) {
		if q.scan, ok = asBool(raw); !ok {
			bad("isScan", raw)
		}
	}
	if raw, ok := top["sortField"]; ok && !isNull(raw) {
		s, _ := asString(raw)
		if s != sortDate && s != sortCreated {
			bad("sortField", raw)
		}
		q.sortField = s
	}
	if raw, ok := top["sortDirection"]; ok && !isNull(raw) {
		switch s, _ := asString(raw); s {
		case "asc":
			q.desc = false
		case "desc":
			q.desc = true
		default:
			bad("sortDirection", raw)
		}
	}
	if raw, ok := top["skip"]; ok && !isNull(raw) {
		v, ok := asInt(raw)
		if !ok || v < 0 || v > math.MaxInt32 {
			bad("skip", raw)
		}
		q.skip = int(v)
	}
	q.limit = 0
	if raw, ok := top["limit"]; ok && !isNull(raw) {
		v, ok := asInt(raw)
		switch {
		case !ok || v < 1 || v > math.MaxInt32:
			bad("limit", raw)
		case q.scan && (v < scanMin || v > scanMax):
			errs = append(errs, formError{"limit", "limit must be between 500 and 5000 in scan mode", shown(raw)})
		}
		q.limit = int(v)
	}
	switch {
	case q.scan && q.limit == 0:
		q.limit = scanDefault
	case q.scan:
	case q.limit == 0:
		q.limit = defaultLimit
	case q.limit > maxLimit:
		q.limit = maxLimit // cut without a word, as the API does
	}
	if raw, ok := top["filters"]; ok && !isNull(raw) {
		var filters map[string]json.RawMessage
		if json.Unmarshal(raw, &filters) != nil || filters == nil {
			bad("filters", raw)
		} else {
			q.filters = filters
			errs = append(errs, q.compile(now)...)
		}
	}
	return q, errs
}

// opParser turns one operator's value into a predicate and the created bounds
// it implies, or reports the value invalid.
type opParser func(raw json.RawMessage, now time.Time) (pred func(*Activity) bool, lo, hi int64, ok bool)

var (
	createdOps = map[string]opParser{
		"gte": cmpOp(getCreated, "gte"),
		"gt":  cmpOp(getCreated, "gt"),
		"lte": cmpOp(getCreated, "lte"),
		"lt":  cmpOp(getCreated, "lt"),
		"eq":  eqTimeOp(getCreated),
		// range takes one {"start","end"} object or a list of them.
		"range": rangeOp(getCreated),
	}
	dateOps = map[string]opParser{
		"gte":       cmpOp(getDate, "gte"),
		"lte":       cmpOp(getDate, "lte"),
		"range":     rangeOp(getDate),
		"gte_ndays": ndaysOp(func(v, x int64) bool { return v >= x }),
		"lte_ndays": ndaysOp(func(v, x int64) bool { return v <= x }),
	}
	// filterFields are the supported filters and their documented operators;
	// anything else is rejected as the API rejects it.
	filterFields = map[string]map[string]opParser{
		"created": createdOps,
		"date":    dateOps,
		"service": {
			"eq":  intSetOp(func(a *Activity) int64 { return int64(a.AppID) }, true),
			"neq": intSetOp(func(a *Activity) int64 { return int64(a.AppID) }, false),
		},
		"activity.type":         {"eq": boolOp((*Activity).Admin)},
		"activity.impersonated": {"eq": boolOp((*Activity).Impersonated)},
		"user.username":         {"eq": stringSetOp((*Activity).UserName, true)},
		"ip.address":            {"eq": stringSetOp((*Activity).IP, false)},
		"location.country":      {"eq": stringSetOp((*Activity).Country, true)},
	}
)

func getCreated(a *Activity) int64 { return a.Created }
func getDate(a *Activity) int64    { return a.Timestamp }

// compile validates q.filters and builds the predicates, AND-combined.
func (q *query) compile(now time.Time) []formError {
	var errs []formError
	fields := make([]string, 0, len(q.filters))
	for f := range q.filters {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		raw := q.filters[f]
		spec, known := filterFields[f]
		if !known {
			errs = append(errs, formError{"filters", f + " is not a valid filter", f})
			continue
		}
		var opsRaw map[string]json.RawMessage
		if json.Unmarshal(raw, &opsRaw) != nil || len(opsRaw) == 0 {
			errs = append(errs, formError{"filters", shown(raw) + " is not valid for " + f, shown(raw)})
			continue
		}
		names := make([]string, 0, len(opsRaw))
		for op := range opsRaw {
			names = append(names, op)
		}
		slices.Sort(names)
		for _, op := range names {
			parse, ok := spec[op]
			if !ok {
				errs = append(errs, formError{"filters", op + " is not a valid operator for " + f, f + "." + op})
				continue
			}
			pred, lo, hi, ok := parse(opsRaw[op], now)
			if !ok {
				errs = append(errs, formError{"filters", shown(opsRaw[op]) + " is not a valid value for " + f + "." + op, shown(opsRaw[op])})
				continue
			}
			q.preds = append(q.preds, pred)
			if f == "created" {
				q.createdLo, q.createdHi = max(q.createdLo, lo), min(q.createdHi, hi)
			}
		}
	}
	return errs
}

// cmpOp compares a time with one value (gte, gt, lte, lt).
func cmpOp(get func(*Activity) int64, op string) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		x, valid := asInt(raw)
		if !valid {
			return nil, 0, 0, false
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		switch op {
		case "gte":
			lo = x
		case "gt":
			lo = x + 1
			if x == math.MaxInt64 {
				lo, hi = 1, 0 // nothing
			}
		case "lte":
			hi = x
		case "lt":
			hi = x - 1
			if x == math.MinInt64 {
				lo, hi = 1, 0
			}
		}
		return func(a *Activity) bool { v := get(a); return lo <= v && v <= hi }, lo, hi, true
	}
}

// eqTimeOp matches one time or any of a list.
func eqTimeOp(get func(*Activity) int64) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		xs, ok := asInts(raw)
		if !ok {
			return nil, 0, 0, false
		}
		return func(a *Activity) bool { return slices.Contains(xs, get(a)) }, slices.Min(xs), slices.Max(xs), true
	}
}

// rangeOp matches start <= v <= end for one range or any of a list.
func rangeOp(get func(*Activity) int64) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		type span struct{ start, end int64 }
		var objs []json.RawMessage
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			if json.Unmarshal(raw, &objs) != nil || len(objs) == 0 {
				return nil, 0, 0, false
			}
		} else {
			objs = []json.RawMessage{raw}
		}
		spans := make([]span, 0, len(objs))
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, o := range objs {
			var m map[string]json.RawMessage
			if json.Unmarshal(o, &m) != nil || m == nil {
				return nil, 0, 0, false
			}
			s, ok1 := asInt(m["start"])
			e, ok2 := asInt(m["end"])
			if !ok1 || !ok2 || s > e {
				return nil, 0, 0, false
			}
			spans = append(spans, span{s, e})
			lo, hi = min(lo, s), max(hi, e)
		}
		return func(a *Activity) bool {
			v := get(a)
			for _, sp := range spans {
				if sp.start <= v && v <= sp.end {
					return true
				}
			}
			return false
		}, lo, hi, true
	}
}

// ndaysOp compares date with now minus a number of days.
func ndaysOp(ok func(v, x int64) bool) opParser {
	return func(raw json.RawMessage, now time.Time) (func(*Activity) bool, int64, int64, bool) {
		days, valid := asFloat(raw)
		if !valid || days < 0 || days > 3650 {
			return nil, 0, 0, false
		}
		x := now.Add(-time.Duration(days * float64(24*time.Hour))).UnixMilli()
		return func(a *Activity) bool { return ok(a.Timestamp, x) }, math.MinInt64, math.MaxInt64, true
	}
}

func intSetOp(get func(*Activity) int64, in bool) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		xs, ok := asInts(raw)
		if !ok {
			return nil, 0, 0, false
		}
		return func(a *Activity) bool { return slices.Contains(xs, get(a)) == in }, math.MinInt64, math.MaxInt64, true
	}
}

func boolOp(get func(*Activity) bool) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		x, ok := asBool(raw)
		if !ok {
			return nil, 0, 0, false
		}
		return func(a *Activity) bool { return get(a) == x }, math.MinInt64, math.MaxInt64, true
	}
}

// stringSetOp matches one string or any of a list; fold makes it
// case-insensitive (user names and country codes).
func stringSetOp(get func(*Activity) string, fold bool) opParser {
	return func(raw json.RawMessage, _ time.Time) (func(*Activity) bool, int64, int64, bool) {
		var xs []string
		if s, ok := asString(raw); ok {
			xs = []string{s}
		} else if json.Unmarshal(raw, &xs) != nil || len(xs) == 0 {
			return nil, 0, 0, false
		}
		return func(a *Activity) bool {
			v := get(a)
			for _, x := range xs {
				if v == x || fold && strings.EqualFold(v, x) {
					return true
				}
			}
			return false
		}, math.MinInt64, math.MaxInt64, true
	}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// asInt reads a JSON integer (an integral number such as 1.5e12 too), never
// a string of digits: the API rejects wrongly typed values.
func asInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, false
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

func asFloat(raw json.RawMessage) (float64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// asInts reads one integer or a non-empty list of them.
func asInts(raw json.RawMessage) ([]int64, bool) {
	if v, ok := asInt(raw); ok {
		return []int64{v}, true
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return nil, false
	}
	xs := make([]int64, len(items))
	for i, it := range items {
		v, ok := asInt(it)
		if !ok {
			return nil, false
		}
		xs[i] = v
	}
	return xs, true
}

func asBool(raw json.RawMessage) (bool, bool) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func asString(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(t, &s) == nil
}

// nextQueryFilters is the request's filters with date.lte set to lte.
func nextQueryFilters(filters map[string]json.RawMessage, lte int64) []byte {
	next := make(map[string]json.RawMessage, len(filters)+1)
	for k, v := range filters {
		next[k] = v
	}
	date := map[string]json.RawMessage{}
	if raw, ok := filters["date"]; ok {
		_ = json.Unmarshal(raw, &date) // validated already
	}
	date["lte"] = json.RawMessage(strconv.FormatInt(lte, 10))
	d, _ := json.Marshal(date)
	next["date"] = d
	b, _ := json.Marshal(next)
	return b
}
