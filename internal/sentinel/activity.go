package sentinel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// timeLayout is how datetime columns are written: RFC 3339, UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// The range of ms-since-epoch values that timeLayout can express (years 1-9999).
var (
	minMillis = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMillis = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

// RowInfo is what a caller needs from an activity to move its cursor, so that
// it never has to decode the record a second time.
type RowInfo struct {
	ID          string // the activity's _id
	CreatedMs   int64  // created, ms since the Unix epoch
	TimestampMs int64  // timestamp, ms since the Unix epoch
}

// RowError reports an activity that cannot become a row.
type RowError struct {
	ActivityID string // the activity's _id, "" when it is not known
	Field      string // the record field at fault, "" for the record as a whole
	Err        error
}

// Error names the activity and the field, e.g.
// activity "97134000_...": field "timestamp": missing.
func (e *RowError) Error() string {
	msg := "activity"
	if e.ActivityID != "" {
		msg += " " + strconv.Quote(e.ActivityID)
	}
	if e.Field != "" {
		msg += ": field " + strconv.Quote(e.Field)
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause, such as a *json.SyntaxError.
func (e *RowError) Unwrap() error { return e.Err }

// errMissing is the RowError.Err of a required field that is absent.
var errMissing = errors.New("missing")

// activityFields holds the parts of a record the curated columns need. Each
// field is the raw JSON value as it appears in the compacted record (nil when
// absent); the column type decides how it is converted when written.
type activityFields struct {
	id, timestamp, created     []byte
	tenantID, aadTenantID      []byte
	appID, appName             []byte
	eventTypeValue             []byte
	eventTypeName              []byte
	description, severity      []byte
	source, impersonated       []byte
	userName, failedUserName   []byte
	actorID, actorName         []byte
	adminEvent                 []byte
	clientIP, rawUserAgent     []byte
	deviceType, browser, os    []byte
	countryCode, city, region  []byte
	latitude, longitude        []byte
	isp, anonymousProxy, ipCat []byte
	rawOperation, prettyOper   []byte
	isSuccess, eventObjects    []byte
}

// decode fills f from the compacted record rec in one pass, matching keys
// exactly (case-sensitively). Duplicate keys: the last one wins, as in
// encoding/json.
func (f *activityFields) decode(rec []byte) error {
	return eachMember(rec, func(k, v []byte) error {
		switch string(k) {
		case "_id":
			f.id = v
		case "timestamp":
			f.timestamp = v
		case "created":
			f.created = v
		case "tenantId":
			f.tenantID = v
		case "aadTenantId":
			f.aadTenantID = v
		case "appId":
			f.appID = v
		case "appName":
			f.appName = v
		case "eventTypeValue":
			f.eventTypeValue = v
		case "eventTypeName":
			f.eventTypeName = v
		case "description":
			f.description = v
		case "severity":
			f.severity = v
		case "source":
			f.source = v
		case "impersonated":
			f.impersonated = v
		case "user":
			return eachMember(v, func(k, v []byte) error {
				if string(k) == "userName" {
					f.userName = v
				}
				return nil
			})
		case "failedUserData":
			return eachMember(v, func(k, v []byte) error {
				if string(k) == "userName" {
					f.failedUserName = v
				}
				return nil
			})
		case "resolvedActor":
			return eachMember(v, func(k, v []byte) error {
				switch string(k) {
				case "id":
					f.actorID = v
				case "name":
					f.actorName = v
				}
				return nil
			})
		case "eventRouting":
			return eachMember(v, func(k, v []byte) error {
				if string(k) == "adminEvent" {
					f.adminEvent = v
				}
				return nil
			})
		case "device":
			return eachMember(v, func(k, v []byte) error {
				switch string(k) {
				case "clientIP":
					f.clientIP = v
				case "userAgent":
					f.rawUserAgent = v
				}
				return nil
			})
		case "userAgent":
			return eachMember(v, func(k, v []byte) error {
				switch string(k) {
				case "deviceType":
					f.deviceType = v
				case "browser":
					f.browser = v
				case "os":
					f.os = v
				}
				return nil
			})
		case "location":
			return eachMember(v, func(k, v []byte) error {
				switch string(k) {
				case "countryCode":
					f.countryCode = v
				case "city":
					f.city = v
				case "region":
					f.region = v
				case "latitude":
					f.latitude = v
				case "longitude":
					f.longitude = v
				case "organizationSearchable":
					f.isp = v
				case "anonymousProxy":
					f.anonymousProxy = v
				case "category":
					f.ipCat = v
				}
				return nil
			})
		case "mainInfo":
			return eachMember(v, func(k, v []byte) error {
				switch string(k) {
				case "rawOperationName":
					f.rawOperation = v
				case "prettyOperationName":
					f.prettyOper = v
				case "eventObjects":
					f.eventObjects = v
				case "activityResult":
					return eachMember(v, func(k, v []byte) error {
						if string(k) == "isSuccess" {
							f.isSuccess = v
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
}

// sourceKind says how a column's source is filled.
type sourceKind uint8

const (
	srcField         sourceKind = iota // a value at a path in the record
	srcObjectNames                     // the names of mainInfo.eventObjects
	srcActivity                        // the record itself, trimmed to the field limit
	srcTrimmedFields                   // the top-level fields trimmed from it
)

// valueKind is the JSON type a record field carries.
type valueKind uint8

const (
	jsonString valueKind = iota + 1
	jsonNumber
	jsonBool
)

// activitySource is the extractor for one schema source.
type activitySource struct {
	kind sourceKind
	json valueKind                      // for srcField
	get  func(f *activityFields) []byte // for srcField
}

func stringField(get func(*activityFields) []byte) activitySource {
	return activitySource{kind: srcField, json: jsonString, get: get}
}

func numberField(get func(*activityFields) []byte) activitySource {
	return activitySource{kind: srcField, json: jsonNumber, get: get}
}

func boolField(get func(*activityFields) []byte) activitySource {
	return activitySource{kind: srcField, json: jsonBool, get: get}
}

// activitySources maps every schema source this package can fill to its
// extractor. A source added to the schema needs an entry here (and a case in
// activityFields.decode); NewActivityRowBuilder refuses the schema until then.
var activitySources = map[string]activitySource{
	"_id":                               stringField(func(f *activityFields) []byte { return f.id }),
	"timestamp":                         numberField(func(f *activityFields) []byte { return f.timestamp }),
	"created":                           numberField(func(f *activityFields) []byte { return f.created }),
	"tenantId":                          numberField(func(f *activityFields) []byte { return f.tenantID }),
	"aadTenantId":                       stringField(func(f *activityFields) []byte { return f.aadTenantID }),
	"appId":                             numberField(func(f *activityFields) []byte { return f.appID }),
	"appName":                           stringField(func(f *activityFields) []byte { return f.appName }),
	"eventTypeValue":                    stringField(func(f *activityFields) []byte { return f.eventTypeValue }),
	"eventTypeName":                     stringField(func(f *activityFields) []byte { return f.eventTypeName }),
	"mainInfo.rawOperationName":         stringField(func(f *activityFields) []byte { return f.rawOperation }),
	"mainInfo.prettyOperationName":      stringField(func(f *activityFields) []byte { return f.prettyOper }),
	"description":                       stringField(func(f *activityFields) []byte { return f.description }),
	"severity":                          stringField(func(f *activityFields) []byte { return f.severity }),
	"source":                            numberField(func(f *activityFields) []byte { return f.source }),
	"mainInfo.activityResult.isSuccess": boolField(func(f *activityFields) []byte { return f.isSuccess }),
	"user.userName":                     stringField(func(f *activityFields) []byte { return f.userName }),
	"failedUserData.userName":           stringField(func(f *activityFields) []byte { return f.failedUserName }),
	"resolvedActor.id":                  stringField(func(f *activityFields) []byte { return f.actorID }),
	"resolvedActor.name":                stringField(func(f *activityFields) []byte { return f.actorName }),
	"eventRouting.adminEvent":           boolField(func(f *activityFields) []byte { return f.adminEvent }),
	"impersonated":                      boolField(func(f *activityFields) []byte { return f.impersonated }),
	"device.clientIP":                   stringField(func(f *activityFields) []byte { return f.clientIP }),
	"device.userAgent":                  stringField(func(f *activityFields) []byte { return f.rawUserAgent }),
	"userAgent.deviceType":              stringField(func(f *activityFields) []byte { return f.deviceType }),
	"userAgent.browser":                 stringField(func(f *activityFields) []byte { return f.browser }),
	"userAgent.os":                      stringField(func(f *activityFields) []byte { return f.os }),
	"location.countryCode":              stringField(func(f *activityFields) []byte { return f.countryCode }),
	"location.city":                     stringField(func(f *activityFields) []byte { return f.city }),
	"location.region":                   stringField(func(f *activityFields) []byte { return f.region }),
	"location.latitude":                 numberField(func(f *activityFields) []byte { return f.latitude }),
	"location.longitude":                numberField(func(f *activityFields) []byte { return f.longitude }),
	"location.organizationSearchable":   stringField(func(f *activityFields) []byte { return f.isp }),
	"location.anonymousProxy":           boolField(func(f *activityFields) []byte { return f.anonymousProxy }),
	"location.category":                 numberField(func(f *activityFields) []byte { return f.ipCat }),
	"mainInfo.eventObjects[].name":      {kind: srcObjectNames},
	"$activity":                         {kind: srcActivity},
	"$trimmedFields":                    {kind: srcTrimmedFields},
}

// accepts reports whether the source can fill a column of type typ.
func (s activitySource) accepts(typ string) bool {
	if s.kind != srcField {
		return typ == schema.TypeDynamic
	}
	switch s.json {
	case jsonString:
		return typ == schema.TypeString
	case jsonNumber:
		return typ == schema.TypeInt || typ == schema.TypeLong || typ == schema.TypeReal || typ == schema.TypeDateTime
	case jsonBool:
		return typ == schema.TypeBoolean
	}
	return false
}

type activityColumn struct {
	prefix []byte // `"Name":`
	typ    string
	src    activitySource
}

// ActivityRowBuilder turns raw activity records into rows of the activity
// table. It is immutable and safe for concurrent use.
type ActivityRowBuilder struct {
	columns []activityColumn
	limit   int // the table's fieldLimitBytes
}

// NewActivityRowBuilder compiles the row layout of t, normally
// schema.Activity(). It fails, naming every offending column, when a column's
// source has no extractor here or cannot produce the column's type.
func NewActivityRowBuilder(t *schema.Table) (*ActivityRowBuilder, error) {
	b := &ActivityRowBuilder{limit: t.FieldLimitBytes}
	var errs []error
	if b.limit < 2 {
		errs = append(errs, fmt.Errorf("table %s: fieldLimitBytes %d is too small for a JSON object", t.Table, b.limit))
	}
	for _, c := range t.Columns {
		src, ok := activitySources[c.Source]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("column %s: source %q has no extractor in package sentinel", c.Name, c.Source))
			continue
		case !src.accepts(c.Type):
			errs = append(errs, fmt.Errorf("column %s: source %q cannot fill a column of type %s", c.Name, c.Source, c.Type))
			continue
		}
		b.columns = append(b.columns, activityColumn{
			prefix: append(appendJSONString(nil, c.Name), ':'),
			typ:    c.Type,
			src:    src,
		})
	}
	// The SPEC fixes these two columns; the cursor logic relies on them.
	if c, ok := t.Column("TimeGenerated"); !ok || c.Source != "timestamp" || c.Type != schema.TypeDateTime {
		errs = append(errs, errors.New("column TimeGenerated: must be a datetime from timestamp"))
	}
	if c, ok := t.Column("ActivityId"); !ok || c.Source != "_id" || c.Type != schema.TypeString {
		errs = append(errs, errors.New("column ActivityId: must be a string from _id"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("activity row layout from schema %s: %w", t.Table, err)
	}
	return b, nil
}

// scratch holds the compacted record between the steps of one row.
type scratch struct {
	rec     bytes.Buffer
	fields  activityFields // here rather than on the stack: the extractors' indirect calls would move it to the heap
	members []member
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledScratch keeps one huge record from pinning its buffer forever.
const maxPooledScratch = 1 << 20

// AppendActivityRow appends to dst the row for raw, one activity record as
// the Activities API returned it, and returns the extended buffer with the
// activity's id and times. On error dst is returned unchanged and the error is
// a *RowError naming the field at fault and the activity id when known.
func (b *ActivityRowBuilder) AppendActivityRow(dst, raw []byte) ([]byte, RowInfo, error) {
	sc := scratchPool.Get().(*scratch)
	defer func() {
		if sc.rec.Cap() <= maxPooledScratch {
			sc.rec.Reset()
			sc.members = sc.members[:0]
			scratchPool.Put(sc)
		}
	}()

	// Compact validates too; the record is kept byte for byte otherwise, so
	// keys that differ only by case, and the key order, survive.
	if err := json.Compact(&sc.rec, raw); err != nil {
		return dst, RowInfo{}, &RowError{Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	return b.buildRow(dst, sc.rec.Bytes(), sc)
}

// AppendCompactActivityRow is AppendActivityRow for a record the caller
// vouches is valid JSON without white space outside its strings, exactly as
// json.Compact would write it: envelope.Decode checks both for a whole page
// at once (Page.Compact), so each record is not validated and copied a second
// time. Given anything else it may return a wrong row or an error, but it
// never panics; it still checks that the record is an object of valid UTF-8.
func (b *ActivityRowBuilder) AppendCompactActivityRow(dst, rec []byte) ([]byte, RowInfo, error) {
	sc := scratchPool.Get().(*scratch)
	defer func() {
		sc.members = sc.members[:0]
		scratchPool.Put(sc)
	}()
	if len(rec) == 0 {
		return dst, RowInfo{}, &RowError{Err: errors.New("invalid JSON: empty")}
	}
	return b.buildRow(dst, rec, sc)
}

// maxRowBytes is the largest row: one that fills a batch on its own.
const maxRowBytes = MaxBatchBytes - 2

// buildRow builds the row of the compacted record rec. Each column keeps to
// the field limit, but twenty-odd of them at the limit (or strings whose
// escapes grow as they are rewritten) can pass a batch, and a row no batch
// takes would fail every run at this activity for good. Such a row is built
// again with every column's limit cut in proportion, with room to spare.
func (b *ActivityRowBuilder) buildRow(dst, rec []byte, sc *scratch) ([]byte, RowInfo, error) {
	start := len(dst)
	for limit := b.limit; ; {
		sc.members = sc.members[:0]
		out, info, err := b.appendRow(dst, rec, sc, limit)
		size := len(out) - start
		if err != nil || size <= maxRowBytes {
			return out, info, err
		}
		limit = int(int64(limit) * maxRowBytes / int64(size) * 9 / 10)
		if limit < 2 {
			return dst, info, &RowError{ActivityID: info.ID, Err: fmt.Errorf("a row of %d bytes does not fit a batch (%d) however its columns are cut", size, maxRowBytes)}
		}
		dst = out[:start]
	}
}

// appendRow builds the row of the compacted record rec, each column cut to
// limit bytes.
func (b *ActivityRowBuilder) appendRow(dst, rec []byte, sc *scratch, limit int) ([]byte, RowInfo, error) {
	if rec[0] != '{' {
		return dst, RowInfo{}, &RowError{Err: fmt.Errorf("want a JSON object, got %s", jsonKind(rec))}
	}
	if !utf8.Valid(rec) {
		return dst, RowInfo{}, &RowError{Err: errors.New("invalid JSON: not valid UTF-8")}
	}
	f := &sc.fields
	*f = activityFields{}
	if err := f.decode(rec); err != nil {
		return dst, RowInfo{}, &RowError{Err: err}
	}
	info, err := f.rowInfo(b.limit)
	if err != nil {
		return dst, RowInfo{}, err
	}

	// The 64 KB rule: decide up front which top-level fields go, since the
	// trimmed-field list may come before the Activity column.
	var trim trimPlan
	if len(rec) > limit {
		sc.members, err = members(sc.members, rec)
		if err != nil {
			return dst, RowInfo{}, &RowError{ActivityID: info.ID, Err: err}
		}
		trim = planTrim(sc.members, len(rec), limit)
	}

	dst = append(dst, '{')
	first := true
	for _, c := range b.columns {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, c.prefix...)
		var ok bool
		switch c.src.kind {
		case srcField:
			dst, ok = b.appendField(dst, c.typ, c.src.get(f), limit)
		case srcObjectNames:
			dst, ok = b.appendObjectNames(dst, f.eventObjects, limit)
		case srcActivity:
			dst, ok = b.appendActivity(dst, rec, sc.members, &trim, limit)
		case srcTrimmedFields:
			dst, ok = b.appendTrimmedFields(dst, rec, sc.members, &trim, limit)
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}'), info, nil
}

// rowInfo checks the fields every row needs and returns them. The id must
// fit in a column of limit bytes uncut: it is the key rows are matched by.
func (f *activityFields) rowInfo(limit int) (RowInfo, error) {
	var info RowInfo
	switch {
	case f.id == nil:
		return info, &RowError{Field: "_id", Err: errMissing}
	case f.id[0] != '"':
		return info, &RowError{Field: "_id", Err: fmt.Errorf("want a string, got %s", jsonKind(f.id))}
	}
	if bytes.IndexByte(f.id, '\\') < 0 {
		info.ID = string(f.id[1 : len(f.id)-1])
	} else {
		id, err := unquote(f.id)
		if err != nil {
			return info, &RowError{Field: "_id", Err: err}
		}
		info.ID = id
	}
	switch {
	case info.ID == "":
		return info, &RowError{Field: "_id", Err: errors.New("empty")}
	case len(info.ID) > limit:
		return info, &RowError{Field: "_id", Err: fmt.Errorf("%d bytes, longer than a column holds (%d)", len(info.ID), limit)}
	}
	var err error
	if info.TimestampMs, err = millis(f.timestamp); err != nil {
		return info, &RowError{ActivityID: info.ID, Field: "timestamp", Err: err}
	}
	if info.CreatedMs, err = millis(f.created); err != nil {
		return info, &RowError{ActivityID: info.ID, Field: "created", Err: err}
	}
	return info, nil
}

// millis reads a required ms-since-epoch value.
func millis(v []byte) (int64, error) {
	if v == nil {
		return 0, errMissing
	}
	if k := jsonKind(v); k != "number" {
		return 0, fmt.Errorf("want a number of milliseconds, got %s", k)
	}
	ms, ok := integer(v)
	if !ok {
		return 0, fmt.Errorf("want whole milliseconds, got %.40s", v)
	}
	if ms < minMillis || ms > maxMillis {
		return 0, fmt.Errorf("%d ms is outside years 1-9999", ms)
	}
	return ms, nil
}

// integer reads a JSON number that holds a whole value within int64.
func integer(v []byte) (int64, bool) {
	// Fast path: plain digits, short enough that they cannot overflow.
	if n := len(v); n > 0 && n <= 18 {
		neg := v[0] == '-'
		d := v
		if neg {
			d = v[1:]
		}
		var x int64
		plain := len(d) > 0
		for _, c := range d {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			x = x*10 + int64(c-'0')
		}
		if plain {
			if neg {
				x = -x
			}
			return x, true
		}
	}
	if x, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return x, true
	}
	// 1.5e3 and 1000.0 are whole numbers too.
	fl, err := strconv.ParseFloat(string(v), 64)
	if err != nil || fl != math.Trunc(fl) || fl < -(1<<63) || fl >= 1<<63 {
		return 0, false
	}
	return int64(fl), true
}

// appendField writes a record value as a column of type typ. A null or a
// value of the wrong JSON type leaves the column out (ok false): the value
// stays visible in the Activity column.
func (b *ActivityRowBuilder) appendField(dst []byte, typ string, v []byte, limit int) ([]byte, bool) {
	if v == nil {
		return dst, false
	}
	kind := jsonKind(v)
	switch typ {
	case schema.TypeString:
		if kind != "string" {
			return dst, false
		}
		return b.appendString(dst, v, limit), true
	case schema.TypeInt, schema.TypeLong:
		if kind != "number" {
			return dst, false
		}
		x, ok := integer(v)
		if !ok || (typ == schema.TypeInt && (x < math.MinInt32 || x > math.MaxInt32)) {
			return dst, false
		}
		return strconv.AppendInt(dst, x, 10), true
	case schema.TypeReal:
		if kind != "number" {
			return dst, false
		}
		// A validated JSON number literal is a valid real as it stands.
		return append(dst, v...), true
	case schema.TypeBoolean:
		if kind != "boolean" {
			return dst, false
		}
		return append(dst, v...), true
	case schema.TypeDateTime:
		ms, err := millis(v)
		if err != nil {
			return dst, false
		}
		return appendTime(dst, time.UnixMilli(ms)), true
	case schema.TypeDynamic:
		if kind == "null" || len(v) > limit {
			return dst, false
		}
		return append(dst, v...), true
	}
	return dst, false
}

// appendString writes a string token, cut at a UTF-8 boundary to the field limit.
func (b *ActivityRowBuilder) appendString(dst, tok []byte, limit int) []byte {
	// Unescaping never makes a string longer, so a short token is copied as is.
	if len(tok)-2 <= limit {
		return append(dst, tok...)
	}
	s, err := unquote(tok)
	if err != nil { // cannot happen for a validated token; write nothing rather than garbage
		return appendJSONString(dst, "")
	}
	return appendJSONString(dst, cutUTF8(s, limit))
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeLayout)
	return append(dst, '"')
}

// appendObjectNames writes the names of the event objects as a JSON array,
// keeping as many as fit in the field limit. Objects without a string name are
// skipped; no eventObjects array means no column.
func (b *ActivityRowBuilder) appendObjectNames(dst, objs []byte, limit int) ([]byte, bool) {
	if len(objs) == 0 || objs[0] != '[' {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, '[')
	full := false
	err := eachElement(objs, func(obj []byte) error {
		return eachMember(obj, func(k, v []byte) error {
			if full || string(k) != "name" || jsonKind(v) != "string" {
				return nil
			}
			if !fitsAnother(dst[start:], v, limit) {
				full = true
				return nil
			}
			dst = appendElement(dst, v)
			return nil
		})
	})
	if err != nil {
		return dst[:start], false
	}
	return append(dst, ']'), true
}

// fitsAnother reports whether arr, an open JSON array, stays within limit
// bytes with v appended and the array closed.
func fitsAnother(arr, v []byte, limit int) bool {
	n := len(arr) + len(v) + 1 // the closing bracket
	if len(arr) > 1 {
		n++ // the comma
	}
	return n <= limit
}

// appendElement appends v to the open JSON array (or object) at the end of
// dst. A complete JSON value never ends in '[' or '{', so those mean "empty".
func appendElement(dst, v []byte) []byte {
	if c := dst[len(dst)-1]; c != '[' && c != '{' {
		dst = append(dst, ',')
	}
	return append(dst, v...)
}

// trimPlan says which top-level members of an oversized record to drop.
type trimPlan struct {
	drop    []bool // by member index
	removed []int  // member indices, in the order they were dropped
}

// planTrim drops the largest top-level members of a record of total bytes,
// largest first (among equal sizes the later member first), until what
// remains fits in limit bytes.
func planTrim(ms []member, total, limit int) trimPlan {
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if d := ms[b].size() - ms[a].size(); d != 0 {
			return d
		}
		return b - a
	})
	p := trimPlan{drop: make([]bool, len(ms))}
	// total is the braces, the members and one comma between neighbours.
	kept := len(ms)
	for _, i := range order {
		if total <= limit {
			break
		}
		p.drop[i] = true
		p.removed = append(p.removed, i)
		total -= ms[i].size()
		if kept > 1 {
			total--
		}
		kept--
	}
	return p
}

// appendActivity writes the record, without the dropped members.
func (b *ActivityRowBuilder) appendActivity(dst, rec []byte, ms []member, p *trimPlan, limit int) ([]byte, bool) {
	if p.drop == nil {
		return append(dst, rec...), true
	}
	start := len(dst)
	dst = append(dst, '{')
	for i, m := range ms {
		if p.drop[i] {
			continue
		}
		dst = appendElement(dst, rec[m.keyStart:m.valEnd])
	}
	dst = append(dst, '}')
	if len(dst)-start > limit { // only when the limit is smaller than the bare keys
		return dst[:start], false
	}
	return dst, true
}

// appendTrimmedFields writes the names of the dropped members in the order
// they were dropped, as a JSON array; no column when nothing was dropped.
func (b *ActivityRowBuilder) appendTrimmedFields(dst, rec []byte, ms []member, p *trimPlan, limit int) ([]byte, bool) {
	if len(p.removed) == 0 {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, '[')
	for _, i := range p.removed {
		key := rec[ms[i].keyStart:ms[i].keyEnd] // a valid JSON string token
		if !fitsAnother(dst[start:], key, limit) {
			break
		}
		dst = appendElement(dst, key)
	}
	return append(dst, ']'), true
}
