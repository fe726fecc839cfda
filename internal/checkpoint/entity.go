package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// PartitionKey is the partition of every checkpoint entity.
const PartitionKey = "mcas-sentinel"

// schemaVersion is the entity layout this code reads and writes.
const schemaVersion = 1

// MaxSeen is the most activity ids a saved Cursor.Seen keeps (the last ones:
// Save drops the oldest). A Table string property holds at most 64 KiB of
// UTF-16, i.e. 32 Ki code units, and activity ids are about 52 characters:
// 500 of them, quoted and comma-separated, take about 27,500 units.
// maxSeenUnits enforces the limit for longer ids.
const MaxSeen = 500

// maxSeenUnits bounds CursorSeen's JSON text in UTF-16 code units, below the
// service's 32,768 with room to spare.
const maxSeenUnits = 30_000

// maxMs bounds every millisecond property (9999-12-31T23:59:59.999Z): beyond
// it a value can only be garbage, and time formatting breaks down.
const maxMs = 253402300799999

// Property names.
const (
	propSchemaVersion     = "SchemaVersion"
	propCursorCreated     = "CursorCreated"
	propCursorSkip        = "CursorSkip"
	propCursorSeen        = "CursorSeen"
	propScannedTo         = "ScannedTo"
	propScanState         = "ScanState"
	propScanBoundary      = "ScanBoundary"
	propLeaseHolder       = "LeaseHolder"
	propLeaseToken        = "LeaseToken"
	propLeaseExpires      = "LeaseExpires"
	propNextCallNotBefore = "NextCallNotBefore"
	propUpdatedAt         = "UpdatedAt"

	edmInt64 = "Edm.Int64"
	edmInt32 = "Edm.Int32"
)

// record is everything one entity holds besides its keys.
type record struct {
	State       State
	LeaseHolder string
	// LeaseToken is random per Acquire and kept in every write of that lease,
	// so a write can be recognised as ours even if two Leases share a holder.
	LeaseToken          string
	LeaseExpiresMs      int64
	NextCallNotBeforeMs int64
	UpdatedAt           time.Time
}

// DecodeError reports a checkpoint entity that cannot be read; Property names
// the offending property ("" when the entity is not a JSON object at all).
type DecodeError struct {
	Property string
	Err      error
}

func (e *DecodeError) Error() string {
	if e.Property == "" {
		return "checkpoint entity: " + e.Err.Error()
	}
	return fmt.Sprintf("checkpoint entity property %s: %v", e.Property, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// CheckScan reports whether a save holding sc would be refused: its filters
// are not JSON, or it is longer than a property of the entity may be. A
// scan run checks each page's position before forwarding any of its rows,
// since a save refused after an accepted upload would have that upload's
// rows sent again by every later run.
func CheckScan(sc Scan) error {
	_, err := encodeScan(&sc)
	return err
}

func encodeScan(sc *Scan) ([]byte, error) {
	if sc.Done < 0 || !json.Valid(sc.Filters) {
		return nil, fmt.Errorf("encode %s: done %d, filters valid JSON: %v", propScanState, sc.Done, json.Valid(sc.Filters))
	}
	b, err := marshalNoEscape(sc)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", propScanState, err)
	}
	if len(b) > maxSeenUnits {
		return nil, fmt.Errorf("encode %s: %d bytes exceed the property limit of %d", propScanState, len(b), maxSeenUnits)
	}
	return b, nil
}

// encodeEntity renders rec as the entity JSON for the Table service, with
// explicit Edm.Int64 annotations so 64-bit values round-trip. (It does not use
// aztables.EDMEntity: its MarshalJSON doubles single quotes in the keys.)
func encodeEntity(key string, rec record) ([]byte, error) {
	seen := rec.State.Cursor.Seen
	if seen == nil {
		seen = []string{}
	}
	seenJSON, err := marshalNoEscape(seen)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", propCursorSeen, err)
	}
	if rec.State.Cursor.Skip < 0 || rec.State.Cursor.Skip > 1<<31-1 {
		return nil, fmt.Errorf("encode %s: %d is outside 0..2^31-1", propCursorSkip, rec.State.Cursor.Skip)
	}
	scanJSON, boundaryJSON := "", ""
	if sc := rec.State.Scan; sc != nil {
		b, err := encodeScan(sc)
		if err != nil {
			return nil, err
		}
		scanJSON = string(b)
		if bd := sc.Boundary; bd != nil && len(bd.IDs) > 0 && len(capSeen(bd.IDs)) == len(bd.IDs) {
			b, err := marshalNoEscape(bd)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", propScanBoundary, err)
			}
			boundaryJSON = string(b)
		}
	}
	m := map[string]any{
		"PartitionKey":        PartitionKey,
		"RowKey":              key,
		propSchemaVersion:     schemaVersion,
		propCursorSkip:        rec.State.Cursor.Skip,
		propCursorSeen:        string(seenJSON),
		propScanState:         scanJSON,
		propScanBoundary:      boundaryJSON,
		propLeaseHolder:       rec.LeaseHolder,
		propLeaseToken:        rec.LeaseToken,
		propUpdatedAt:         rec.UpdatedAt.UTC().Format(time.RFC3339Nano),
		propCursorCreated:     strconv.FormatInt(rec.State.Cursor.CreatedMs, 10),
		propScannedTo:         strconv.FormatInt(rec.State.ScannedToMs, 10),
		propLeaseExpires:      strconv.FormatInt(rec.LeaseExpiresMs, 10),
		propNextCallNotBefore: strconv.FormatInt(rec.NextCallNotBeforeMs, 10),
	}
	for _, p := range []string{propCursorCreated, propScannedTo, propLeaseExpires, propNextCallNotBefore} {
		m[p+"@odata.type"] = edmInt64
	}
	return marshalNoEscape(m)
}

// marshalNoEscape is json.Marshal without HTML escaping (<, >, & in ids would
// otherwise take six characters each of the property budget).
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decodeEntity reads an entity as the Table service returns it
// (minimal-metadata JSON). Unknown properties are ignored; a missing, wrongly
// typed or out-of-range known one gives a *DecodeError naming it.
func decodeEntity(raw []byte) (record, error) {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return record{}, &DecodeError{Err: fmt.Errorf("not a JSON object: %w", err)}
	}
	if props == nil {
		return record{}, &DecodeError{Err: errors.New("not a JSON object: null")}
	}
	d := decoder{props: props}
	var rec record
	if v := d.int32(propSchemaVersion); d.err == nil && v != schemaVersion {
		if v > schemaVersion {
			d.fail(propSchemaVersion, fmt.Errorf("version %d was written by a newer mcas-sentinel; this one reads version %d", v, schemaVersion))
		} else {
			d.fail(propSchemaVersion, fmt.Errorf("unknown version %d", v))
		}
	}
	rec.State.Cursor.CreatedMs = d.ms(propCursorCreated)
	rec.State.Cursor.Skip = int(d.int32(propCursorSkip))
	if d.err == nil && rec.State.Cursor.Skip < 0 {
		d.fail(propCursorSkip, fmt.Errorf("negative: %d", rec.State.Cursor.Skip))
	}
	rec.State.Cursor.Seen = d.seen(propCursorSeen)
	rec.State.ScannedToMs = d.ms(propScannedTo)
	rec.State.Scan = d.scan(propScanState)
	if b := d.boundary(propScanBoundary); b != nil && rec.State.Scan != nil {
		rec.State.Scan.Boundary = b
	}
	rec.LeaseHolder = d.string(propLeaseHolder)
	rec.LeaseToken = d.string(propLeaseToken)
	rec.LeaseExpiresMs = d.ms(propLeaseExpires)
	rec.NextCallNotBeforeMs = d.ms(propNextCallNotBefore)
	if s := d.string(propUpdatedAt); d.err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			d.fail(propUpdatedAt, fmt.Errorf("not an RFC 3339 time: %w", err))
		}
		rec.UpdatedAt = t.UTC()
	}
	if d.err != nil {
		return record{}, d.err
	}
	return rec, nil
}

// scan reads the optional scan continuation: absent or empty means none
// (entities written before scan mode existed have no such property).
func (d *decoder) scan(prop string) *Scan {
	var sc Scan
	if !d.optionalJSON(prop, "a scan continuation", &sc) {
		return nil
	}
	if sc.Done < 0 || sc.WindowEndMs <= 0 || sc.WindowEndMs > maxMs || !json.Valid(sc.Filters) || len(sc.Filters) == 0 || sc.Filters[0] != '{' {
		d.fail(prop, fmt.Errorf("out of range: done %d, window end %d, filters %s", sc.Done, sc.WindowEndMs, truncate(sc.Filters)))
		return nil
	}
	return &sc
}

// boundary reads the optional ScanBoundary property ("" or absent: none).
func (d *decoder) boundary(prop string) *ScanBoundary {
	var b ScanBoundary
	if !d.optionalJSON(prop, "a scan boundary", &b) {
		return nil
	}
	if len(b.IDs) == 0 || b.DateMs > maxMs {
		d.fail(prop, fmt.Errorf("out of range: date %d, %d ids", b.DateMs, len(b.IDs)))
		return nil
	}
	return &b
}

// optionalJSON decodes a string property holding JSON into v, strictly. It
// reports false when the property is absent, null or "" (nothing to read)
// and when it is bad (recorded as the decoder's error, naming what).
func (d *decoder) optionalJSON(prop, what string, v any) bool {
	raw, ok := d.props[prop]
	if d.err != nil || !ok || string(raw) == "null" {
		return false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(prop, fmt.Errorf("not a string: %s", truncate(raw)))
		return false
	}
	if s == "" {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		d.fail(prop, fmt.Errorf("not %s: %w", what, err))
		return false
	}
	return true
}

// decoder reads properties, keeping the first error.
type decoder struct {
	props map[string]json.RawMessage
	err   error
}

func (d *decoder) fail(prop string, err error) {
	if d.err == nil {
		d.err = &DecodeError{Property: prop, Err: err}
	}
}

// value returns prop's raw JSON value and its @odata.type annotation ("" when
// absent), or ok false after recording why not.
func (d *decoder) value(prop string) (raw json.RawMessage, edm string, ok bool) {
	if d.err != nil {
		return nil, "", false
	}
	raw, ok = d.props[prop]
	if !ok || string(raw) == "null" {
		d.fail(prop, errors.New("missing"))
		return nil, "", false
	}
	if a, has := d.props[prop+"@odata.type"]; has {
		if err := json.Unmarshal(a, &edm); err != nil {
			d.fail(prop, fmt.Errorf("bad @odata.type annotation %s", truncate(a)))
			return nil, "", false
		}
	}
	return raw, edm, true
}

func (d *decoder) string(prop string) string {
	raw, edm, ok := d.value(prop)
	if !ok {
		return ""
	}
	var s string
	if edm != "" && edm != "Edm.String" {
		d.fail(prop, fmt.Errorf("want Edm.String, got %s", edm))
		return ""
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(prop, fmt.Errorf("want a string, got %s", truncate(raw)))
		return ""
	}
	return s
}

// int32 reads an Edm.Int32, which minimal metadata sends as a bare number.
func (d *decoder) int32(prop string) int32 {
	raw, edm, ok := d.value(prop)
	if !ok {
		return 0
	}
	if edm != "" && edm != edmInt32 {
		d.fail(prop, fmt.Errorf("want %s, got %s", edmInt32, edm))
		return 0
	}
	v, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil {
		d.fail(prop, fmt.Errorf("want a 32-bit integer, got %s", truncate(raw)))
		return 0
	}
	return int32(v)
}

// ms reads an Edm.Int64 holding milliseconds since the epoch: a decimal
// string annotated Edm.Int64. A bare integer (Edm.Int32) is accepted too.
func (d *decoder) ms(prop string) int64 {
	raw, edm, ok := d.value(prop)
	if !ok {
		return 0
	}
	var text string
	switch edm {
	case edmInt64:
		if err := json.Unmarshal(raw, &text); err != nil {
			d.fail(prop, fmt.Errorf("want an %s decimal string, got %s", edmInt64, truncate(raw)))
			return 0
		}
	case "", edmInt32:
		text = string(raw)
	default:
		d.fail(prop, fmt.Errorf("want %s, got %s", edmInt64, edm))
		return 0
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if edm == "" && len(raw) > 0 && raw[0] == '"' {
			d.fail(prop, fmt.Errorf("want %s, got a string without an @odata.type annotation", edmInt64))
		} else {
			d.fail(prop, fmt.Errorf("want a 64-bit integer, got %s", truncate(raw)))
		}
		return 0
	}
	if v < 0 || v > maxMs {
		d.fail(prop, fmt.Errorf("%d ms is outside 0..%d (1970 to 9999)", v, int64(maxMs)))
		return 0
	}
	return v
}

func (d *decoder) seen(prop string) []string {
	s := d.string(prop)
	if d.err != nil {
		return nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil || (ids == nil && s != "[]") {
		d.fail(prop, fmt.Errorf("want a JSON array of strings, got %s", truncate([]byte(s))))
		return nil
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

func truncate(b []byte) string {
	const max = 40
	if len(b) <= max {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:max])) + "..."
}

// capSeen returns the longest suffix of ids with at most MaxSeen entries whose
// JSON fits maxSeenUnits UTF-16 code units. It never modifies ids.
func capSeen(ids []string) []string {
	units := 2 // []
	start := len(ids)
	for start > 0 && len(ids)-start < MaxSeen {
		q, err := marshalNoEscape(ids[start-1])
		if err != nil {
			break // not reachable: strings always marshal
		}
		n := utf16Len(q) + 1 // and a comma
		if units+n > maxSeenUnits {
			break
		}
		units += n
		start--
	}
	return ids[start:]
}

func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		n += max(1, utf16.RuneLen(r)) // RuneLen is -1 only for invalid runes, which JSON encoding replaces
	}
	return n
}
