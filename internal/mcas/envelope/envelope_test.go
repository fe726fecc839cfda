package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

func TestDecode(t *testing.T) {
	type want struct {
		Data             []string
		HasNext          bool
		Total            string
		NextQueryFilters string
		Compact          bool
	}
	for _, tc := range []struct {
		name, body string
		want       want
		err        string // a substring of the error; "" for success
	}{
		{name: "list page", body: `{"total":2,"hasNext":true,"data":[{"_id":"a","created":1},{"_id":"b","created":2}]}`,
			want: want{Data: []string{`{"_id":"a","created":1}`, `{"_id":"b","created":2}`}, HasNext: true, Total: "2", Compact: true}},
		{name: "white space everywhere, kept inside activities", body: " \n{ \"data\" :\t[ {\"a\" : [1, 2] } ,\r\n\"x\" , 3 , true ] , \"hasNext\" : false }\n",
			want: want{Data: []string{`{"a" : [1, 2] }`, `"x"`, `3`, `true`}}},
		{name: "white space between tokens inside an activity", body: `{"data":[{"a":[1,2]},{"a":[1, 2]}]}`,
			want: want{Data: []string{`{"a":[1,2]}`, `{"a":[1, 2]}`}}},
		{name: "white space only inside strings is compact", body: `{"data":[{"a":" b\t"}], "hasNext" : true}`,
			want: want{Data: []string{`{"a":" b\t"}`}, HasNext: true, Compact: true}},
		{name: "empty data", body: `{"data":[],"hasNext":false}`, want: want{Data: []string{}, Compact: true}},
		{name: "scan page", body: `{"data":[{"_id":"a"}],"hasNext":true,"nextQueryFilters":{"date":{"lte":5},"created":{"gte":1}}}`,
			want: want{Data: []string{`{"_id":"a"}`}, HasNext: true, NextQueryFilters: `{"date":{"lte":5},"created":{"gte":1}}`, Compact: true}},
		{name: "null continuation", body: `{"data":[],"nextQueryFilters":null}`, want: want{Data: []string{}, Compact: true}},
		{name: "strings with escapes and brackets", body: `{"data":[{"s":"a\"]}\\","t":"\\\\"},"\u005d\""]}`,
			want: want{Data: []string{`{"s":"a\"]}\\","t":"\\\\"}`, `"\u005d\""`}, Compact: true}},
		{name: "escaped key", body: `{"d\u0061ta":[1]}`, want: want{Data: []string{`1`}, Compact: true}},
		{name: "last of a repeated key wins", body: `{"data":[1],"hasNext":true,"data":[2],"hasNext":false}`, want: want{Data: []string{`2`}, Compact: true}},
		{name: "other members ignored", body: `{"extra":{"data":[9]},"data":[1],"more":[["]"]]}`, want: want{Data: []string{`1`}, Compact: true}},
		{name: "null hasNext is false", body: `{"data":[],"hasNext":null}`, want: want{Data: []string{}, Compact: true}},
		{name: "deep nesting", body: `{"data":[` + strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `]}`,
			want: want{Data: []string{strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300)}, Compact: true}},

		{name: "no data", body: `{"error":"maintenance"}`, err: `no "data" array`},
		{name: "null data", body: `{"data":null}`, err: `no "data" array`},
		{name: "data repeated as null", body: `{"data":[1],"data":null}`, err: `no "data" array`},
		{name: "data of another case", body: `{"Data":[1]}`, err: `no "data" array`},
		{name: "data not an array", body: `{"data":{"a":1}}`, err: `no "data" array`},
		{name: "hasNext a string", body: `{"data":[],"hasNext":"true"}`, err: `"hasNext" is a JSON string`},
		{name: "an array", body: `[]`, err: "JSON array, not an object"},
		{name: "null", body: `null`, err: "JSON null, not an object"},
		{name: "empty", body: ``, err: "not valid JSON"},
		{name: "truncated", body: `{"data":[{"_id":"a"`, err: "not valid JSON: unexpected end of JSON input"},
		{name: "HTML", body: `<html><body>502</body></html>`, err: "not valid JSON: invalid character '<'"},
		{name: "trailing garbage", body: `{"data":[]} x`, err: "not valid JSON"},
		{name: "bad activity", body: `{"data":[{"a":tru}]}`, err: "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := Decode([]byte(tc.body))
			if tc.err != "" {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Decode error = %v, want an *Error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got := want{Data: []string{}, HasNext: page.HasNext, Total: string(page.Total), NextQueryFilters: string(page.NextQueryFilters), Compact: page.Compact}
			for _, d := range page.Data {
				got.Data = append(got.Data, string(d))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

// The activities are slices of the body, not copies, and appending to one
// cannot overwrite the next; the continuation is a copy, since the
// checkpoint keeps it after the body is gone.
func TestAliasing(t *testing.T) {
	body := []byte(`{"data":[{"a":1},{"b":2}],"nextQueryFilters":{"c":3}}`)
	page, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if &page.Data[0][0] != &body[9] {
		t.Error("the first activity is a copy, not a slice of the body")
	}
	_ = append(page.Data[0], 'x')
	if string(page.Data[1]) != `{"b":2}` {
		t.Errorf("appending to one activity changed the next: %s", page.Data[1])
	}
	copy(body, bytes.Repeat([]byte("z"), len(body)))
	if string(page.NextQueryFilters) != `{"c":3}` {
		t.Errorf("the continuation changed with the body: %s", page.NextQueryFilters)
	}
}

// oracle decodes body with encoding/json, matching keys exactly: what Decode
// must agree with.
func oracle(body []byte) (data []json.RawMessage, hasNext bool, ok bool) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, false, false
	}
	if hn, present := members["hasNext"]; present && json.Unmarshal(hn, &hasNext) != nil {
		return nil, false, false
	}
	d, present := members["data"]
	if !present || json.Unmarshal(d, &data) != nil || data == nil {
		return nil, false, false
	}
	return data, hasNext, true
}

// FuzzDecode holds Decode to encoding/json: the same bodies accepted, the
// same activities, byte for byte, and never a panic.
func FuzzDecode(f *testing.F) {
	act := mcasapi.NewGenerator(1).Next(time.Date(2026, 11, 24, 13, 9, 0, 0, time.UTC))
	rec := act.Record()
	for _, seed := range []string{
		`{"total":1,"hasNext":true,"data":[` + string(rec) + `]}`,
		`{"data":[{"s":"a\"]}\\"},"\\"],"hasNext":false}`,
		` { "data" : [ 1 , [ ] , { } ] } `,
		`{"data":[1],"data":null}`,
		`{"d\u0061ta":[1],"hasNext":null}`,
		`{"data":[],"hasNext":"x"}`,
		`[1]`,
		`{"data":[1]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := Decode(body)
		data, hasNext, ok := oracle(body)
		if ok != (err == nil) {
			t.Fatalf("Decode error = %v; encoding/json accepts it: %v", err, ok)
		}
		if !ok {
			return
		}
		if page.HasNext != hasNext || len(page.Data) != len(data) {
			t.Fatalf("hasNext %v, %d activities; encoding/json: %v, %d", page.HasNext, len(page.Data), hasNext, len(data))
		}
		compact := true
		for i := range data {
			if !bytes.Equal(page.Data[i], data[i]) {
				t.Fatalf("activity %d = %q; encoding/json: %q", i, page.Data[i], data[i])
			}
			var c bytes.Buffer
			_ = json.Compact(&c, data[i])
			compact = compact && bytes.Equal(c.Bytes(), data[i])
		}
		if page.Compact != compact {
			t.Fatalf("Compact = %v, but json.Compact changes an activity: %v", page.Compact, !compact)
		}
	})
}

// testPage is a list page of n activities as the simulated tenant renders them.
func testPage(b *testing.B, n int) []byte {
	b.Helper()
	gen := mcasapi.NewGenerator(7)
	at := time.Date(2026, 11, 24, 13, 9, 0, 0, time.UTC)
	var buf bytes.Buffer
	buf.WriteString(`{"total":12345,"hasNext":true,"data":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		act := gen.Next(at.Add(time.Duration(i) * time.Millisecond))
		buf.Write(act.Record())
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkDecode against what internal/mcas did before: encoding/json into
// []json.RawMessage, which validates, then scans and copies each activity.
func BenchmarkDecode(b *testing.B) {
	body := testPage(b, 100)
	b.Run("envelope", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var env struct {
				Data    *[]json.RawMessage `json:"data"`
				HasNext bool               `json:"hasNext"`
				Total   json.RawMessage    `json:"total"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
}
