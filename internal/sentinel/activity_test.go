package sentinel

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

var update = flag.Bool("update", false, "rewrite the .golden files in testdata")

func activityBuilder(t testing.TB) *ActivityRowBuilder {
	t.Helper()
	b, err := NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallLimitBuilder uses a doctored schema with a tiny field limit, to drive
// the trimming and cutting paths with small records.
func smallLimitBuilder(t testing.TB, limit int) *ActivityRowBuilder {
	t.Helper()
	tbl := *schema.Activity()
	tbl.FieldLimitBytes = limit
	b, err := NewActivityRowBuilder(&tbl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readSample(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "sample_1.json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func compact(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// field is one top-level member of a JSON object, read with encoding/json so
// that the tests do not depend on the scanner they check.
type field struct {
	Key   string
	Value json.RawMessage
}

// fields returns the members of a JSON object in order, failing on a key seen twice.
func fields(t testing.TB, obj []byte) []field {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object (%v): %.200s", err, obj)
	}
	var out []field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v in %.200s", err, obj)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v in %.200s", err, obj)
		}
		if seen[k] {
			t.Errorf("key %q written twice", k)
		}
		seen[k] = true
		out = append(out, field{k, v})
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rowMap decodes a row with numbers kept as json.Number.
func rowMap(t testing.TB, row []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(row))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("row is not a JSON object: %v\n%.300s", err, row)
	}
	return m
}

// checkRow checks a row against a table: valid compact JSON, only schema
// columns, in schema order, each value of its column's type. It returns the
// columns present.
func checkRow(t testing.TB, tbl *schema.Table, row []byte) []string {
	t.Helper()
	if !json.Valid(row) {
		t.Fatalf("row is not valid JSON: %.300s", row)
	}
	if c := compact(t, row); !bytes.Equal(c, row) {
		t.Errorf("row is not compact")
	}
	order := map[string]int{}
	for i, c := range tbl.Columns {
		order[c.Name] = i
	}
	var names []string
	last := -1
	for _, f := range fields(t, row) {
		i, ok := order[f.Key]
		if !ok {
			t.Errorf("column %s is not in schema %s", f.Key, tbl.Table)
			continue
		}
		if i < last {
			t.Errorf("column %s out of schema order", f.Key)
		}
		last = i
		if err := checkType(tbl.Columns[i].Type, f.Value); err != nil {
			t.Errorf("column %s (%s) = %.100s: %v", f.Key, tbl.Columns[i].Type, f.Value, err)
		}
		if n := valueSize(f.Value); n > tbl.FieldLimitBytes {
			t.Errorf("column %s is %d bytes, over the field limit %d", f.Key, n, tbl.FieldLimitBytes)
		}
		names = append(names, f.Key)
	}
	return names
}

// valueSize is the size Log Analytics measures a column value by: a string's
// text, or any other value's JSON.
func valueSize(v json.RawMessage) int {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return len(s)
	}
	return len(v)
}

// checkType checks that a raw JSON value is what a Log Analytics column of
// type typ accepts.
func checkType(typ string, raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	switch typ {
	case schema.TypeString:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
	case schema.TypeInt, schema.TypeLong:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("want a number, got %T", v)
		}
		bits := 64
		if typ == schema.TypeInt {
			bits = 32
		}
		if _, err := strconv.ParseInt(n.String(), 10, bits); err != nil {
			return err
		}
	case schema.TypeReal:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("want a number, got %T", v)
		}
		if _, err := n.Float64(); err != nil {
			return err
		}
	case schema.TypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want a boolean, got %T", v)
		}
	case schema.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		if want := tm.UTC().Format(timeLayout); s != want {
			return fmt.Errorf("want UTC to the millisecond (%s)", want)
		}
	case schema.TypeDynamic:
		switch v.(type) {
		case map[string]any, []any:
		default:
			return fmt.Errorf("want an object or array, got %T", v)
		}
	default:
		return fmt.Errorf("unknown column type %q", typ)
	}
	return nil
}

func TestActivityRowGolden(t *testing.T) {
	b := activityBuilder(t)
	row, info, err := b.AppendActivityRow(nil, readSample(t))
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, schema.Activity(), row)
	wantInfo := RowInfo{ID: "97134000_15600_97ee2049-893e-4c9d-a312-08d82b46faf7", CreatedMs: 1595096586840, TimestampMs: 1595096313000}
	if diff := cmp.Diff(wantInfo, info); diff != "" {
		t.Errorf("RowInfo (-want +got):\n%s", diff)
	}

	// The golden file is the row indented for review; rows are compact
	// (checkRow), so this comparison is byte for byte.
	var got bytes.Buffer
	if err := json.Indent(&got, row, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	golden := filepath.Join("testdata", "sample_1.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("row for sample_1 (-want +got):\n%s", diff)
	}
}

func TestActivityRowAppendsToDst(t *testing.T) {
	b := activityBuilder(t)
	dst := []byte("prefix")
	row, _, err := b.AppendActivityRow(dst, readSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(row, []byte("prefix{")) {
		t.Errorf("row = %.20q..., want the prefix kept", row)
	}
	same, _, err := b.AppendActivityRow(dst, []byte(`{"_id":5}`))
	if err == nil || string(same) != "prefix" {
		t.Errorf("on error got %q, %v; want dst unchanged and an error", same, err)
	}
}

// base is the smallest valid activity; the extraction cases add to it.
const base = `"_id":"id-1","timestamp":1595096313000,"created":1595096586840`

func TestActivityFieldExtraction(t *testing.T) {
	tests := []struct {
		name  string
		extra string // members added to base
		want  string // columns expected besides TimeGenerated, ActivityId, CreatedTime and Activity
	}{
		{"nothing else", ``, `{}`},
		{"MdaTenantId", `"tenantId":97134000`, `{"MdaTenantId":97134000}`},
		{"AadTenantId", `"aadTenantId":"ebac1a16"`, `{"AadTenantId":"ebac1a16"}`},
		{"AppId", `"appId":15600`, `{"AppId":15600}`},
		{"AppName", `"appName":"Microsoft OneDrive for Business"`, `{"AppName":"Microsoft OneDrive for Business"}`},
		{"EventTypeValue", `"eventTypeValue":"EVENT_O365_ONEDRIVE_GENERIC"`, `{"EventTypeValue":"EVENT_O365_ONEDRIVE_GENERIC"}`},
		{"EventCategory", `"eventTypeName":"EVENT_CATEGORY_LOGIN"`, `{"EventCategory":"EVENT_CATEGORY_LOGIN"}`},
		{"ActionType and ActionName", `"mainInfo":{"rawOperationName":"FileDownloaded","prettyOperationName":"File downloaded"}`,
			`{"ActionType":"FileDownloaded","ActionName":"File downloaded"}`},
		{"Description", `"description":"FilePreviewed"`, `{"Description":"FilePreviewed"}`},
		{"Severity", `"severity":"INFO"`, `{"Severity":"INFO"}`},
		{"Source", `"source":2`, `{"Source":2}`},
		{"IsSuccess", `"mainInfo":{"activityResult":{"isSuccess":false,"message":"x"}}`, `{"IsSuccess":false}`},
		{"UserName", `"user":{"userName":"user1@contoso.com","userTags":[]}`, `{"UserName":"user1@contoso.com"}`},
		{"FailedLoginUserName", `"failedUserData":{"userName":"bob"}`, `{"FailedLoginUserName":"bob"}`},
		{"ActorId and ActorName", `"resolvedActor":{"id":"3fa9","name":"User One","saasId":"11161"}`, `{"ActorId":"3fa9","ActorName":"User One"}`},
		{"IsAdminActivity", `"eventRouting":{"adminEvent":true}`, `{"IsAdminActivity":true}`},
		{"IsImpersonated", `"impersonated":false`, `{"IsImpersonated":false}`},
		{"IPAddress and UserAgent", `"device":{"clientIP":"8.8.8.8","userAgent":"curl/8","countryCode":"IL"}`,
			`{"IPAddress":"8.8.8.8","UserAgent":"curl/8"}`},
		{"parsed user agent", `"userAgent":{"deviceType":"DESKTOP","browser":"EDGE","os":"WINDOWS","family":"X"}`,
			`{"DeviceType":"DESKTOP","Browser":"EDGE","OperatingSystem":"WINDOWS"}`},
		{"location", `"location":{"countryCode":"IL","city":"Tel Aviv","region":"Tel Aviv","latitude":32.0679,"longitude":-34.7604,` +
			`"organizationSearchable":"Cellcom Group","anonymousProxy":false,"category":5,"categoryValue":"null"}`,
			`{"CountryCode":"IL","City":"Tel Aviv","Region":"Tel Aviv","Latitude":32.0679,"Longitude":-34.7604,` +
				`"Isp":"Cellcom Group","IsAnonymousProxy":false,"IPCategory":5}`},
		{"real keeps its literal", `"location":{"latitude":1e2,"longitude":0}`, `{"Latitude":1e2,"Longitude":0}`},
		{"ObjectNames", `"mainInfo":{"eventObjects":[{"name":"a","id":"1"},{"id":"no name"},{"name":null},{"name":7},"not an object",{"name":"b"}]}`,
			`{"ObjectNames":["a","b"]}`},
		{"ObjectNames empty", `"mainInfo":{"eventObjects":[]}`, `{"ObjectNames":[]}`},
		{"ObjectNames not an array", `"mainInfo":{"eventObjects":{"name":"a"}}`, `{}`},

		// Absent, null or mistyped values leave their column out.
		{"null values", `"appName":null,"appId":null,"impersonated":null,"location":{"latitude":null}`, `{}`},
		{"string for a number", `"appId":"15600"`, `{}`},
		{"number for a string", `"user":{"userName":5}`, `{}`},
		{"string for a boolean", `"impersonated":"true"`, `{}`},
		{"fraction for an int", `"appId":1.5`, `{}`},
		{"whole number in exponent form", `"appId":1.56e4`, `{"AppId":15600}`},
		{"int out of 32-bit range", `"appId":3000000000`, `{}`},
		{"long beyond 32 bits", `"tenantId":30000000000`, `{"MdaTenantId":30000000000}`},
		{"long out of range", `"tenantId":1e30`, `{}`},
		{"parent of the wrong type", `"user":"bob","location":[1,2],"mainInfo":null`, `{}`},

		// Keys match exactly.
		{"key of another case", `"User":{"userName":"x"},"user":{"UserName":"y"},"AppName":"z"`, `{}`},
		{"escaped key", `"user":{"user\u004eame":"u"}`, `{"UserName":"u"}`},
		{"duplicate key, last wins", `"appName":"first","appName":"second"`, `{"AppName":"second"}`},
		{"escapes kept", `"description":"a \"quoted\"\n\u00e9 \u2028 <&>"`, `{"Description":"a \"quoted\"\n\u00e9 \u2028 <&>"}`},
	}
	b := activityBuilder(t)
	skip := map[string]bool{"TimeGenerated": true, "ActivityId": true, "CreatedTime": true, "Activity": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{` + base
			if tt.extra != "" {
				raw += `,` + tt.extra
			}
			raw += `}`
			row, _, err := b.AppendActivityRow(nil, []byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			checkRow(t, schema.Activity(), row)
			got := rowMap(t, row)
			for k := range skip {
				if _, ok := got[k]; !ok {
					t.Errorf("column %s missing", k)
				}
				delete(got, k)
			}
			if diff := cmp.Diff(rowMap(t, []byte(tt.want)), got); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestActivityCoreColumns(t *testing.T) {
	row, _, err := activityBuilder(t).AppendActivityRow(nil, []byte(`{"created":1595096586840,"_id":"x_1","timestamp":1595096313007}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"TimeGenerated":"2020-07-18T18:18:33.007Z","ActivityId":"x_1","CreatedTime":"2020-07-18T18:23:06.840Z",` +
		`"Activity":{"created":1595096586840,"_id":"x_1","timestamp":1595096313007}}`
	if diff := cmp.Diff(want, string(row)); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}

// fullRecord fills every column but ActivityTrimmedFields.
const fullRecord = `{"_id":"97134000_15600_x","tenantId":97134000,"aadTenantId":"ebac","appId":15600,"appName":"OneDrive",
 "timestamp":1595096313000,"created":1595096586840,"eventTypeValue":"EVENT_X","eventTypeName":"EVENT_CATEGORY_FAILED_LOGIN",
 "description":"d","severity":"INFO","source":2,"impersonated":true,"eventRouting":{"adminEvent":false},
 "user":{"userName":"u"},"failedUserData":{"userName":"f"},"resolvedActor":{"id":"a","name":"A"},
 "device":{"clientIP":"1.2.3.4","userAgent":"ua"},"userAgent":{"deviceType":"OTHER","browser":"B","os":"O"},
 "location":{"countryCode":"IL","city":"c","region":"r","latitude":32.0679,"longitude":34.7604,"organizationSearchable":"isp",
 "anonymousProxy":false,"category":0},
 "mainInfo":{"eventObjects":[{"name":"n"}],"rawOperationName":"op","prettyOperationName":"Op","activityResult":{"isSuccess":true}}}`

// TestActivityColumnTypes checks every column of the schema for its type,
// over records that together fill all of them; a column added to the schema
// fails here until a record below fills it.
func TestActivityColumnTypes(t *testing.T) {
	tbl := schema.Activity()
	records := map[string][]byte{
		"sample_1":  readSample(t),
		"full":      []byte(fullRecord),
		"oversized": oversized(t, readSample(t), 120_000, 70_000),
	}
	b := activityBuilder(t)
	seen := map[string]bool{}
	for name, raw := range records {
		row, _, err := b.AppendActivityRow(nil, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range checkRow(t, tbl, row) {
			seen[c] = true
		}
	}
	for _, c := range tbl.Columns {
		if !seen[c.Name] {
			t.Errorf("column %s (source %s) is filled by no test record: extend the records in this test", c.Name, c.Source)
		}
	}
}

func TestActivityCaseCollidingKeysSurvive(t *testing.T) {
	raw := []byte(`{
	  "_id": "id-case", "timestamp": 1595096313000, "created": 1595096586840, "Created": "not the cursor",
	  "rawDataJson": {"Level": 4, "EventName": "A", "level": "four", "eventName": "a", "Z": 1, "a": 2, "LEVEL": null}
	}`)
	row, info, err := activityBuilder(t).AppendActivityRow(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	if info.CreatedMs != 1595096586840 {
		t.Errorf("CreatedMs = %d, want the value of the exact key created", info.CreatedMs)
	}
	var activity json.RawMessage
	for _, f := range fields(t, row) {
		if f.Key == "Activity" {
			activity = f.Value
		}
	}
	if diff := cmp.Diff(string(compact(t, raw)), string(activity)); diff != "" {
		t.Errorf("Activity is not the record verbatim (-want +got):\n%s", diff)
	}
	var keys []string
	for _, f := range fields(t, activity) {
		if f.Key == "rawDataJson" {
			for _, g := range fields(t, f.Value) {
				keys = append(keys, g.Key)
			}
		}
	}
	if diff := cmp.Diff([]string{"Level", "EventName", "level", "eventName", "Z", "a", "LEVEL"}, keys); diff != "" {
		t.Errorf("rawDataJson keys (-want +got):\n%s", diff)
	}
}

// oversized returns rec, compacted, with padding of about padRaw bytes added
// inside rawDataJson and padCollected inside collected.
func oversized(t testing.TB, rec []byte, padRaw, padCollected int) []byte {
	t.Helper()
	s := string(compact(t, rec))
	for _, p := range []struct {
		member string
		n      int
	}{{`"rawDataJson":{`, padRaw}, {`"collected":{`, padCollected}} {
		if !strings.Contains(s, p.member) {
			t.Fatalf("record has no %s", p.member)
		}
		s = strings.Replace(s, p.member, p.member+`"Pad":"`+strings.Repeat("x", p.n)+`",`, 1)
	}
	return []byte(s)
}

func TestActivityOverflow(t *testing.T) {
	sample := readSample(t)
	raw := oversized(t, sample, 125_000, 75_000)
	if len(raw) < 200_000 {
		t.Fatalf("test record is only %d bytes", len(raw))
	}
	b := activityBuilder(t)
	limit := schema.Activity().FieldLimitBytes
	row, info, err := b.AppendActivityRow(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, schema.Activity(), row)
	if info.ID != "97134000_15600_97ee2049-893e-4c9d-a312-08d82b46faf7" {
		t.Errorf("RowInfo.ID = %q", info.ID)
	}
	cols := map[string]json.RawMessage{}
	for _, f := range fields(t, row) {
		cols[f.Key] = f.Value
	}
	if n := len(cols["Activity"]); n > limit {
		t.Errorf("Activity is %d bytes, want at most %d", n, limit)
	}
	var trimmed []string
	if err := json.Unmarshal(cols["ActivityTrimmedFields"], &trimmed); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"rawDataJson", "collected"}, trimmed); diff != "" {
		t.Errorf("ActivityTrimmedFields (-want +got):\n%s", diff)
	}

	// Activity is the record minus the trimmed members, order and bytes kept.
	var want []field
	for _, f := range fields(t, raw) {
		if !slices.Contains(trimmed, f.Key) {
			want = append(want, f)
		}
	}
	if diff := cmp.Diff(want, fields(t, cols["Activity"])); diff != "" {
		t.Errorf("Activity (-want +got):\n%s", diff)
	}

	// Every curated column is as for the record that needed no trimming.
	plain, _, err := b.AppendActivityRow(nil, sample)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := rowMap(t, plain)
	gotCols := rowMap(t, row)
	for _, m := range []map[string]any{wantCols, gotCols} {
		delete(m, "Activity")
		delete(m, "ActivityTrimmedFields")
	}
	if diff := cmp.Diff(wantCols, gotCols); diff != "" {
		t.Errorf("curated columns changed by trimming (-want +got):\n%s", diff)
	}
}

func TestActivityTrimOrder(t *testing.T) {
	// Limit 60: drop the largest (c), then of the equal-sized a and d the later (d).
	raw := `{"_id":"i","timestamp":1,"created":2,"a":"xxxxxxxxxx","c":"xxxxxxxxxxxxxxxxxxxx","d":"yyyyyyyyyy"}`
	row, _, err := smallLimitBuilder(t, 60).AppendActivityRow(nil, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := rowMap(t, row)
	wantAct := map[string]any{"_id": "i", "timestamp": json.Number("1"), "created": json.Number("2"), "a": "xxxxxxxxxx"}
	if diff := cmp.Diff(wantAct, got["Activity"]); diff != "" {
		t.Errorf("Activity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"c", "d"}, got["ActivityTrimmedFields"]); diff != "" {
		t.Errorf("ActivityTrimmedFields (-want +got):\n%s", diff)
	}
}

func TestActivityStringColumnsCut(t *testing.T) {
	limit := schema.Activity().FieldLimitBytes
	long := "a" + strings.Repeat("é", limit) // the limit falls inside a two-byte character
	escaped := strings.Repeat(`\u00e9`, limit/4)
	tests := []struct {
		name, value string // value as written in the record
		want        string
	}{
		{"cut at a character boundary", long, long[:limit-1]},
		{"escapes make the token long, not the text", escaped, strings.Repeat("é", limit/4)},
		{"exactly at the limit", strings.Repeat("b", limit), strings.Repeat("b", limit)},
	}
	b := activityBuilder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{` + base + `,"description":"` + tt.value + `"}`
			row, _, err := b.AppendActivityRow(nil, []byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			checkRow(t, schema.Activity(), row)
			got, _ := rowMap(t, row)["Description"].(string)
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("Description is %d bytes (valid UTF-8: %t), want at most %d", len(got), utf8.ValidString(got), limit)
			}
			if got != tt.want {
				t.Errorf("Description = %d bytes %.20q..., want %d bytes %.20q...", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestActivityObjectNamesCapped(t *testing.T) {
	var objs []string
	var names []any
	for i := range 3000 {
		n := fmt.Sprintf("https://contoso.sharepoint.com/sites/s/Documents/file-%05d.docx", i)
		objs = append(objs, `{"objType":1,"name":"`+n+`"}`)
		names = append(names, n)
	}
	raw := `{` + base + `,"mainInfo":{"eventObjects":[` + strings.Join(objs, ",") + `]}}`
	row, _, err := activityBuilder(t).AppendActivityRow(nil, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, schema.Activity(), row)
	var got json.RawMessage
	for _, f := range fields(t, row) {
		if f.Key == "ObjectNames" {
			got = f.Value
		}
	}
	if len(got) > schema.Activity().FieldLimitBytes {
		t.Errorf("ObjectNames is %d bytes", len(got))
	}
	var list []any
	if err := json.Unmarshal(got, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || len(list) == len(names) {
		t.Fatalf("ObjectNames has %d names, want some but not all %d", len(list), len(names))
	}
	if diff := cmp.Diff(names[:len(list)], list); diff != "" {
		t.Errorf("ObjectNames is not a prefix of the names (-want +got):\n%s", diff)
	}
}

func TestActivityObjectNamesAtTheLimit(t *testing.T) {
	raw := []byte(`{"_id":"i","timestamp":1,"created":2,"mainInfo":{"eventObjects":[{"name":"aaaa"},{"name":"bbbb"}]}}`)
	for limit, want := range map[int]string{15: `["aaaa","bbbb"]`, 14: `["aaaa"]`, 7: `[]`} {
		row, _, err := smallLimitBuilder(t, limit).AppendActivityRow(nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		var got json.RawMessage
		for _, f := range fields(t, row) {
			if f.Key == "ObjectNames" {
				got = f.Value
			}
		}
		if string(got) != want {
			t.Errorf("limit %d: ObjectNames = %s, want %s", limit, got, want)
		}
	}
}

func TestActivityBadInput(t *testing.T) {
	tests := []struct {
		name, raw string
		field, id string // want in the *RowError
		msg       string // want in the message
	}{
		{"empty", ``, "", "", "invalid JSON"},
		{"not JSON", `not json`, "", "", "invalid JSON"},
		{"truncated", `{"_id":"a","timestamp":1`, "", "", "invalid JSON"},
		{"trailing data", `{"_id":"a","timestamp":1,"created":1} {}`, "", "", "invalid JSON"},
		{"invalid UTF-8", "{\"_id\":\"a\xff\",\"timestamp\":1,\"created\":1}", "", "", "UTF-8"},
		{"array", `[{"_id":"a"}]`, "", "", "want a JSON object, got array"},
		{"string", `"a"`, "", "", "got string"},
		{"null", `null`, "", "", "got null"},
		{"no _id", `{"timestamp":1,"created":1}`, "_id", "", "missing"},
		{"number _id", `{"_id":5,"timestamp":1,"created":1}`, "_id", "", "want a string, got number"},
		{"empty _id", `{"_id":"","timestamp":1,"created":1}`, "_id", "", "empty"},
		{"_id of another case only", `{"_ID":"a","timestamp":1,"created":1}`, "_id", "", "missing"},
		{"no timestamp", `{"_id":"a","created":1}`, "timestamp", "a", "missing"},
		{"string timestamp", `{"_id":"a","timestamp":"1595096313000","created":1}`, "timestamp", "a", "got string"},
		{"fractional timestamp", `{"_id":"a","timestamp":1.5,"created":1}`, "timestamp", "a", "whole milliseconds"},
		{"no created", `{"_id":"a","timestamp":1}`, "created", "a", "missing"},
		{"null created", `{"_id":"a","timestamp":1,"created":null}`, "created", "a", "got null"},
		{"created out of range", `{"_id":"a","timestamp":1,"created":1e300}`, "created", "a", "whole milliseconds"},
		{"created past year 9999", `{"_id":"a","timestamp":1,"created":253402300800000}`, "created", "a", "outside years"},
		{"escaped id in the message", `{"_id":"a\"b","created":1}`, "timestamp", `a"b`, `"a\"b"`},
	}
	b := activityBuilder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("kept")
			got, info, err := b.AppendActivityRow(dst, []byte(tt.raw))
			if err == nil {
				t.Fatalf("no error; row %s", got)
			}
			if string(got) != "kept" || info != (RowInfo{}) {
				t.Errorf("got %q, %+v; want dst unchanged and no RowInfo", got, info)
			}
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *RowError", err)
			}
			if re.Field != tt.field || re.ActivityID != tt.id {
				t.Errorf("RowError{Field: %q, ActivityID: %q}, want %q, %q", re.Field, re.ActivityID, tt.field, tt.id)
			}
			msg := err.Error()
			for _, want := range []string{tt.msg, tt.field} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if tt.id != "" && !strings.Contains(msg, strconv.Quote(tt.id)) {
				t.Errorf("error %q does not name activity %q", msg, tt.id)
			}
		})
	}
}

func TestNewActivityRowBuilderRefusesDrift(t *testing.T) {
	withColumn := func(c schema.Column) *schema.Table {
		tbl := *schema.Activity()
		tbl.Columns = append(slices.Clone(tbl.Columns), c)
		return &tbl
	}
	replaced := func(name string, c schema.Column) *schema.Table {
		tbl := *schema.Activity()
		tbl.Columns = slices.Clone(tbl.Columns)
		for i := range tbl.Columns {
			if tbl.Columns[i].Name == name {
				tbl.Columns[i] = c
			}
		}
		return &tbl
	}
	tests := []struct {
		name string
		tbl  *schema.Table
		want []string
	}{
		{"unknown source", withColumn(schema.Column{Name: "Carrier", Type: "string", Source: "location.carrier"}),
			[]string{"Carrier", `"location.carrier"`, "no extractor"}},
		{"unknown special", withColumn(schema.Column{Name: "Raw", Type: "dynamic", Source: "$raw"}), []string{`"$raw"`}},
		{"number source as string", replaced("AppId", schema.Column{Name: "AppId", Type: "string", Source: "appId"}),
			[]string{"AppId", "cannot fill a column of type string"}},
		{"activity as string", replaced("Activity", schema.Column{Name: "Activity", Type: "string", Source: "$activity"}),
			[]string{"Activity", "type string"}},
		{"TimeGenerated from created", replaced("TimeGenerated", schema.Column{Name: "TimeGenerated", Type: "datetime", Source: "created"}),
			[]string{"TimeGenerated"}},
		{"no ActivityId", replaced("ActivityId", schema.Column{Name: "Id2", Type: "string", Source: "_id"}),
			[]string{"ActivityId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewActivityRowBuilder(tt.tbl)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEveryActivitySourceIsInTheSchema(t *testing.T) {
	used := map[string]bool{}
	for _, c := range schema.Activity().Columns {
		used[c.Source] = true
	}
	for src := range activitySources {
		if !used[src] {
			t.Errorf("extractor for %q is not used by the schema: remove it or add its column", src)
		}
	}
}

func FuzzAppendActivityRow(f *testing.F) {
	f.Add(readSample(f))
	f.Add([]byte(fullRecord))
	f.Add([]byte(`{` + base + `}`))
	f.Add([]byte(`{` + base + `,"mainInfo":{"eventObjects":[{"name":"a"},{"name":"b\u00e9"}]},"description":"x\"y"}`))
	f.Add([]byte(`{"_id":"a\"b","timestamp":1.5e3,"created":-1,"user":{"user\u004eame":"u"}}`))
	f.Add([]byte(`{"_id":5}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte("{\"_id\":\"\xff\"}"))
	full := activityBuilder(f)
	tiny := smallLimitBuilder(f, 48) // reaches the trimming and cutting paths
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, b := range []*ActivityRowBuilder{full, tiny} {
			prefix := []byte("[")
			row, info, err := b.AppendActivityRow(prefix, raw)
			// The fast path never panics, whatever it is given, and on a
			// compacted record it builds exactly the row the validating one does.
			_, _, _ = b.AppendCompactActivityRow(nil, raw)
			var compacted bytes.Buffer
			if json.Compact(&compacted, raw) == nil {
				fastRow, fastInfo, fastErr := b.AppendCompactActivityRow([]byte("["), compacted.Bytes())
				if (fastErr == nil) != (err == nil) || string(fastRow) != string(row) || fastInfo != info {
					t.Fatalf("AppendCompactActivityRow(compacted) = %q, %+v, %v; AppendActivityRow = %q, %+v, %v", fastRow, fastInfo, fastErr, row, info, err)
				}
			}
			if err != nil {
				var re *RowError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *RowError", err)
				}
				if string(row) != "[" {
					t.Fatalf("dst changed on error: %q", row)
				}
				continue
			}
			row = row[1:]
			if !json.Valid(row) || !utf8.Valid(row) {
				t.Fatalf("row is not valid JSON: %q", row)
			}
			var cols map[string]json.RawMessage
			if err := json.Unmarshal(row, &cols); err != nil {
				t.Fatal(err)
			}
			var id string
			if err := json.Unmarshal(cols["ActivityId"], &id); err != nil || id != info.ID || id == "" {
				t.Fatalf("ActivityId %s, RowInfo.ID %q", cols["ActivityId"], info.ID)
			}
			for name, v := range cols {
				if n := valueSize(v); n > b.limit {
					t.Fatalf("column %s is %d bytes, limit %d", name, n, b.limit)
				}
			}
		}
	})
}

// Every row fits a batch, whatever the record: each column keeps to the
// field limit, but twenty-odd columns at the limit pass 1 MiB together, and
// so do strings whose escapes grow as they are rewritten (\f becomes
// \u000c). A row no batch takes would fail every run at that activity.
func TestEveryRowFitsABatch(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := map[string]string{
		"escapes that grow when cut": `{"_id":"a1","timestamp":1700000000000,"created":1700000000000,` +
			`"description":"` + long(`\f`, 65001) + `","appName":"` + long(`\f`, 65001) + `","eventTypeName":"` + long(`\f`, 65001) + `"}`,
		"every text column at the limit": `{"_id":"a2","timestamp":1700000000000,"created":1700000000000,` +
			`"appName":"` + long("a", 64000) + `","eventTypeValue":"` + long("b", 64000) + `","eventTypeName":"` + long("c", 64000) +
			`","description":"` + long("d", 64000) + `","severity":"` + long("e", 64000) + `","impersonated":false` +
			`,"mainInfo":{"rawOperationName":"` + long("f", 64000) + `","prettyOperationName":"` + long("g", 64000) + `"}` +
			`,"user":{"userName":"` + long("h", 64000) + `"},"failedUserData":{"userName":"` + long("i", 64000) + `"}` +
			`,"resolvedActor":{"id":"` + long("j", 64000) + `","name":"` + long("k", 64000) + `"}` +
			`,"device":{"clientIP":"` + long("l", 64000) + `","userAgent":"` + long("m", 64000) + `"}` +
			`,"userAgent":{"deviceType":"` + long("n", 64000) + `","browser":"` + long("o", 64000) + `","os":"` + long("p", 64000) + `"}` +
			`,"location":{"countryCode":"` + long("q", 64000) + `","city":"` + long("r", 64000) + `","region":"` + long("s", 64000) + `"}}`,
	}
	b := activityBuilder(t)
	for name, rec := range tests {
		t.Run(name, func(t *testing.T) {
			row, info, err := b.AppendActivityRow(nil, []byte(rec))
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := NewBatch().Append(row); err != nil || !ok {
				t.Fatalf("a %d-byte record gives a %d-byte row that no batch takes: %v", len(rec), len(row), err)
			}
			var got struct{ ActivityId, TimeGenerated string }
			if err := json.Unmarshal(row, &got); err != nil {
				t.Fatalf("the row is not JSON: %v", err)
			}
			if got.ActivityId != info.ID || got.TimeGenerated != "2023-11-14T22:13:20.000Z" {
				t.Errorf("ActivityId %q, TimeGenerated %q; want %q and the timestamp", got.ActivityId, got.TimeGenerated, info.ID)
			}
			compact, _, err := b.AppendCompactActivityRow(nil, []byte(rec))
			if err != nil || !bytes.Equal(compact, row) {
				t.Errorf("the compact path gives another row (%d bytes, %v)", len(compact), err)
			}
		})
	}
}
