package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

// validEntity is an entity as Azurite returns it (minimal metadata).
const validEntity = `{"odata.metadata":"http://127.0.0.1:10002/devstoreaccount1/$metadata#t/@Element",` +
	`"odata.etag":"W/\"datetime'2026-03-01T12%3A00%3A00.1234567Z'\"","PartitionKey":"mcas-sentinel","RowKey":"tenant",` +
	`"Timestamp":"2026-03-01T12:00:00.1234567Z","SchemaVersion":1,` +
	`"CursorCreated@odata.type":"Edm.Int64","CursorCreated":"2199023255675","CursorSkip":2,` +
	`"CursorSeen":"[\"a\",\"b \\\"q\\\" ü\"]","ScannedTo@odata.type":"Edm.Int64","ScannedTo":"1772366400000",` +
	`"LeaseHolder":"run-1","LeaseToken":"TOKEN","LeaseExpires@odata.type":"Edm.Int64","LeaseExpires":"1772366430000",` +
	`"NextCallNotBefore@odata.type":"Edm.Int64","NextCallNotBefore":"0","UpdatedAt":"2026-03-01T12:00:00.5Z"}`

func TestDecodeValidEntity(t *testing.T) {
	got, err := decodeEntity([]byte(validEntity))
	if err != nil {
		t.Fatal(err)
	}
	want := record{
		State: State{
			Cursor:      Cursor{CreatedMs: 2199023255675, Skip: 2, Seen: []string{"a", `b "q" ü`}},
			ScannedToMs: 1772366400000,
		},
		LeaseHolder:    "run-1",
		LeaseToken:     "TOKEN",
		LeaseExpiresMs: 1772366430000,
		UpdatedAt:      time.Date(2026, 3, 1, 12, 0, 0, 5e8, time.UTC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decodeEntity (-want +got):\n%s", diff)
	}
}

// mutate returns validEntity with prop set to the raw JSON value (or removed
// when value is "").
func mutate(t *testing.T, prop, value string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validEntity), &m); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(m, prop)
	} else {
		m[prop] = json.RawMessage(value)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeErrorsNameTheProperty(t *testing.T) {
	tests := []struct {
		name     string
		raw      []byte
		property string
		contains string
	}{
		{"not JSON", []byte("{"), "", "not a JSON object"},
		{"an array", []byte("[1]"), "", "not a JSON object"},
		{"null", []byte("null"), "", "not a JSON object"},
		{"newer schema", mutate(t, "SchemaVersion", "2"), "SchemaVersion", "newer"},
		{"schema zero", mutate(t, "SchemaVersion", "0"), "SchemaVersion", "unknown version"},
		{"schema as string", mutate(t, "SchemaVersion", `"1"`), "SchemaVersion", "32-bit integer"},
		{"Int64 without annotation", mutate(t, "CursorCreated@odata.type", ""), "CursorCreated", "without an @odata.type"},
		{"Int64 wrong annotation", mutate(t, "CursorCreated@odata.type", `"Edm.Double"`), "CursorCreated", "Edm.Double"},
		{"Int64 garbled", mutate(t, "CursorCreated", `"12x"`), "CursorCreated", "64-bit integer"},
		{"Int64 as number with annotation", mutate(t, "CursorCreated", `12`), "CursorCreated", "decimal string"},
		{"Int64 annotation not a string", mutate(t, "CursorCreated@odata.type", `7`), "CursorCreated", "annotation"},
		{"ms negative", mutate(t, "ScannedTo", `"-1"`), "ScannedTo", "outside"},
		{"ms past 9999", mutate(t, "LeaseExpires", `"253402300800000"`), "LeaseExpires", "outside"},
		{"skip fractional", mutate(t, "CursorSkip", "1.5"), "CursorSkip", "32-bit integer"},
		{"skip too big", mutate(t, "CursorSkip", "2147483648"), "CursorSkip", "32-bit integer"},
		{"skip negative", mutate(t, "CursorSkip", "-1"), "CursorSkip", "negative"},
		{"seen not a string", mutate(t, "CursorSeen", `["a"]`), "CursorSeen", "want a string"},
		{"seen garbled", mutate(t, "CursorSeen", `"[\"a\""`), "CursorSeen", "JSON array of strings"},
		{"seen of numbers", mutate(t, "CursorSeen", `"[1,2]"`), "CursorSeen", "JSON array of strings"},
		{"seen null", mutate(t, "CursorSeen", `"null"`), "CursorSeen", "JSON array of strings"},
		{"holder a number", mutate(t, "LeaseHolder", `5`), "LeaseHolder", "want a string"},
		{"holder typed", mutate(t, "LeaseHolder@odata.type", `"Edm.Guid"`), "LeaseHolder", "Edm.Guid"},
		{"updated garbled", mutate(t, "UpdatedAt", `"yesterday"`), "UpdatedAt", "RFC 3339"},
		{"missing null", mutate(t, "LeaseToken", `null`), "LeaseToken", "missing"},
		{"boundary not a string", mutate(t, "ScanBoundary", `{"date":1}`), "ScanBoundary", "not a string"},
		{"boundary garbled", mutate(t, "ScanBoundary", `"{\"date\":1"`), "ScanBoundary", "not a scan boundary"},
		{"boundary unknown field", mutate(t, "ScanBoundary", `"{\"date\":1,\"ids\":[\"a\"],\"x\":1}"`), "ScanBoundary", "not a scan boundary"},
		{"boundary without ids", mutate(t, "ScanBoundary", `"{\"date\":1,\"ids\":[]}"`), "ScanBoundary", "out of range"},
	}
	for _, prop := range []string{propSchemaVersion, propCursorCreated, propCursorSkip, propCursorSeen, propScannedTo,
		propLeaseHolder, propLeaseToken, propLeaseExpires, propNextCallNotBefore, propUpdatedAt} {
		tests = append(tests, struct {
			name     string
			raw      []byte
			property string
			contains string
		}{"missing " + prop, mutate(t, prop, ""), prop, "missing"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeEntity(tt.raw)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Property != tt.property {
				t.Errorf("Property = %q, want %q (err %v)", de.Property, tt.property, err)
			}
			if !strings.Contains(err.Error(), tt.contains) || (tt.property != "" && !strings.Contains(err.Error(), tt.property)) {
				t.Errorf("err = %q, want it to name %q and contain %q", err, tt.property, tt.contains)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rec := record{
		State: State{
			Cursor:      Cursor{CreatedMs: maxMs, Skip: 1<<31 - 1, Seen: []string{"<&>", "\u2028", "🙂"}},
			ScannedToMs: 1 << 47,
		},
		LeaseHolder: "h", LeaseToken: "t", LeaseExpiresMs: 1, NextCallNotBeforeMs: 2,
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	b, err := encodeEntity("k", rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntity(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b), `\u003c`) {
		t.Errorf("encoded ids are HTML-escaped: %s", b)
	}
}

func TestCapSeen(t *testing.T) {
	ids := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%0*d", size, i)
		}
		return out
	}
	units := func(ids []string) int {
		b, _ := marshalNoEscape(ids)
		return len(utf16.Encode([]rune(string(b))))
	}
	tests := []struct {
		name string
		ids  []string
		want int // number kept
	}{
		{"none", nil, 0},
		{"under the count", ids(3, 52), 3},
		{"over the count", ids(MaxSeen+20, 52), MaxSeen},
		{"long ids", ids(MaxSeen, 200), 147},
		{"one huge id", []string{strings.Repeat("x", maxSeenUnits)}, 0},
		{"astral runes count twice", []string{strings.Repeat("🙂", maxSeenUnits/2-2), "🙂"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capSeen(tt.ids)
			if len(got) != tt.want {
				t.Fatalf("kept %d, want %d", len(got), tt.want)
			}
			if diff := cmp.Diff(tt.ids[len(tt.ids)-len(got):], got); len(got) > 0 && diff != "" {
				t.Errorf("not a suffix (-want +got):\n%s", diff)
			}
			if n := units(got); n > maxSeenUnits {
				t.Errorf("%d UTF-16 units, over %d", n, maxSeenUnits)
			}
		})
	}
}

// FuzzDecodeEntity feeds the decoder arbitrary bytes: it must never panic, and
// whatever it accepts must survive encoding and decoding unchanged.
func FuzzDecodeEntity(f *testing.F) {
	f.Add([]byte(validEntity))
	valid, err := encodeEntity("tenant", record{State: State{Cursor: Cursor{CreatedMs: 5, Skip: 1, Seen: []string{"x"}}}, UpdatedAt: time.Unix(0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, seed := range []string{
		"", "null", "{}", "[]", `"x"`, "{", `{"SchemaVersion":1}`,
		`{"SchemaVersion":1,"CursorCreated":"1","CursorCreated@odata.type":"Edm.Int64"}`,
		strings.Replace(validEntity, `"CursorSkip":2`, `"CursorSkip":1e400`, 1),
		strings.Replace(validEntity, `"CursorSeen":"[`, `"CursorSeen":"[[`, 1),
		strings.Replace(validEntity, `"UpdatedAt":"2026-03-01T12:00:00.5Z"`, `"UpdatedAt":"2026-03-01T12:00:00+14:00"`, 1),
		strings.Replace(validEntity, `"1772366430000"`, `"9223372036854775808"`, 1),
		strings.Replace(validEntity, `"Edm.Int64"`, `null`, 1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := decodeEntity(raw)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		b, err := encodeEntity("k", rec)
		if err != nil {
			t.Fatalf("encode what decode accepted: %v", err)
		}
		again, err := decodeEntity(b)
		if err != nil {
			t.Fatalf("decode what encode wrote: %v\n%s", err, b)
		}
		if diff := cmp.Diff(rec, again); diff != "" {
			t.Errorf("re-decoded record differs (-first +second):\n%s", diff)
		}
	})
}

// A scan position round-trips with its boundary, kept in a property of its
// own; a boundary too long to keep whole is not kept at all (resuming by
// Done), since a part of it would name too few rows as done.
func TestScanBoundaryRoundTrip(t *testing.T) {
	long := make([]string, MaxSeen+1)
	for i := range long {
		long[i] = strconv.Itoa(i)
	}
	tests := []struct {
		name string
		b    *ScanBoundary
		want *ScanBoundary
	}{
		{"none", nil, nil},
		{"a few ids", &ScanBoundary{DateMs: 1_700_000_000_123, IDs: []string{"a", "<&>"}}, &ScanBoundary{DateMs: 1_700_000_000_123, IDs: []string{"a", "<&>"}}},
		{"too many to keep", &ScanBoundary{DateMs: 5, IDs: long}, nil},
		{"no ids", &ScanBoundary{DateMs: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &Scan{Filters: json.RawMessage(`{"date":{"lte":9}}`), Done: 3, WindowEndMs: 10, Boundary: tt.b}
			rec := record{State: State{Scan: sc}, LeaseHolder: "h", LeaseToken: "t", UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			b, err := encodeEntity("k", rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeEntity(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			want := *sc
			want.Boundary = tt.want
			if diff := cmp.Diff(&want, got.State.Scan); diff != "" {
				t.Errorf("scan (-want +got):\n%s", diff)
			}
		})
	}
}
