package mcasapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const testToken = "tok-7f3a9c0e5b1d4e2f8a6c9b0d1e2f3a4b"

// t0 is the tests' "now": activities are made before it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newSim returns a sim on a fake clock at t0, served over TLS.
func newSim(t *testing.T, opts Options) (*Sim, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Tokens == nil {
		opts.Tokens = []string{testToken}
	}
	sim := New(opts)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, clk
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body read error
}

// do sends body (a string is sent as is, anything else as JSON) with the
// token unless token is "".
func do(t *testing.T, srv *httptest.Server, method, path, token string, body any) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// page is a decoded list response.
type page struct {
	Total            int64             `json:"total"`
	HasNext          bool              `json:"hasNext"`
	Data             []json.RawMessage `json:"data"`
	NextQueryFilters json.RawMessage   `json:"nextQueryFilters"`
}

func (p page) ids(t *testing.T) []string {
	t.Helper()
	out := make([]string, len(p.Data))
	for i, d := range p.Data {
		var r struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(d, &r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		out[i] = r.ID
	}
	return out
}

// list posts a list request and decodes the 200 answer.
func list(t *testing.T, srv *httptest.Server, body any) page {
	t.Helper()
	r := do(t, srv, http.MethodPost, ListPath, testToken, body)
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("list %v: status %d, err %v, body %.300s", body, r.status, r.err, r.body)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode page: %v", err)
	}
	return p
}

// listAll pages a created-ascending query with skip until hasNext is false.
func listAll(t *testing.T, srv *httptest.Server, filters map[string]any) []string {
	t.Helper()
	var ids []string
	for skip := 0; ; skip += 100 {
		body := map[string]any{"filters": filters, "sortField": "created", "sortDirection": "asc", "skip": skip, "limit": 100}
		r := do(t, srv, http.MethodPost, ListPath, testToken, body)
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("list %v: status %d, err %v, body %.300s", body, r.status, r.err, r.body)
		}
		var p struct {
			HasNext bool `json:"hasNext"`
			Data    []struct {
				ID string `json:"_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Data {
			ids = append(ids, d.ID)
		}
		if !p.HasNext {
			return ids
		}
		if skip > 1_000_000 {
			t.Fatal("paging does not end")
		}
	}
}

func idsOf(acts []Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}

func ms(t time.Time) int64 { return t.UnixMilli() }
