package mcas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// FuzzDecodePage feeds the Activities API page decoder whatever a tenant, a
// proxy or a broken connection could send. It must never panic; it accepts
// only valid JSON with a "data" array, and then returns exactly what the
// envelope said; everything else is a *BadResponseError with a bounded
// snippet.
func FuzzDecodePage(f *testing.F) {
	rec := mcasapi.NewGenerator(1).Next(time.Date(2026, 11, 24, 13, 9, 0, 0, time.UTC))
	valid := []byte(`{"total":1,"hasNext":true,"data":[` + string(rec.Record()) + `]}`)
	for _, seed := range [][]byte{
		valid,
		valid[:len(valid)/2], // truncated
		[]byte(`<!DOCTYPE html><html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>`),
		[]byte(`{"data":null}`),
		[]byte(`{"data":[]}`),
		[]byte(`{"total":1e400,"hasNext":false,"data":[]}`),
		[]byte(`{"total":123456789012345678901234567890,"data":[{"created":1e999,"timestamp":-9223372036854775809}]}`),
		[]byte(`{"hasNext":"true","data":[1]}`),
		[]byte(`{"error":"maintenance"}`),
		[]byte(`{"data":[1],"data":null}`),
		[]byte("{\"data\":[\"\xff\xfe\"]}"),
		[]byte(`[]`),
		[]byte(`null`),
		[]byte(``),
		[]byte(`{"data":[` + strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `]}`), // deep nesting
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		page, err := decodePage(raw, "")
		if err != nil {
			var bad *BadResponseError
			if !errors.As(err, &bad) {
				t.Fatalf("error %T %v, want *BadResponseError", err, err)
			}
			if len(bad.Snippet) > maxMessage+len("…") {
				t.Fatalf("snippet of %d bytes, want at most %d", len(bad.Snippet), maxMessage)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted a body that is not valid JSON: %q", raw)
		}
		if page.Data == nil {
			t.Fatalf("accepted a body without a data array: %q", raw)
		}
		for i, d := range page.Data {
			if !json.Valid(d) {
				t.Fatalf("activity %d is not valid JSON: %q", i, d)
			}
		}
		// The page is what the envelope said: written back and decoded
		// again, it is the same page.
		again, err := json.Marshal(struct {
			Data    []json.RawMessage `json:"data"`
			HasNext bool              `json:"hasNext"`
			Total   float64           `json:"total"`
		}{page.Data, page.HasNext, page.Total})
		if err != nil {
			t.Fatalf("re-encode the page: %v", err)
		}
		page2, err := decodePage(again, "")
		if err != nil {
			t.Fatalf("the page re-encoded does not decode: %v", err)
		}
		if page2.HasNext != page.HasNext || page2.Total != page.Total || len(page2.Data) != len(page.Data) {
			t.Fatalf("round trip: hasNext %v→%v, total %v→%v, %d→%d activities", page.HasNext, page2.HasNext, page.Total, page2.Total, len(page.Data), len(page2.Data))
		}
		for i := range page.Data {
			if a, b := generic(t, page.Data[i]), generic(t, page2.Data[i]); !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip changed activity %d: %q → %q", i, page.Data[i], page2.Data[i])
			}
		}
	})
}

// generic decodes JSON keeping numbers as written, so huge ones compare too.
func generic(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}
