package mcas

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

const secretToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// tokens is a TokenSource whose value can rotate.
type tokens struct {
	mu          sync.Mutex
	values      []string // returned in turn after each Invalidate
	i           int
	invalidated int
}

func (t *tokens) Token(context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.values[min(t.i, len(t.values)-1)], nil
}

func (t *tokens) Invalidate(string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.i++
	t.invalidated++
}

type countingPacer struct{ n, sent atomic.Int64 }

func (p *countingPacer) Wait(context.Context) error { p.n.Add(1); return nil }
func (p *countingPacer) Sent(time.Time)             { p.sent.Add(1) }
func (p *countingPacer) Throttled(time.Time)        {}

// api is a scripted Activities API: each request gets the next fault from
// plan, then a valid one-activity page unless handled.
type api struct {
	plan    fault.Plan
	mu      sync.Mutex
	bodies  []map[string]any
	auths   []string
	valid   string // the token it accepts
	status  int    // when non-zero, answer this status with errBody instead of a page
	errBody string
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	a.mu.Lock()
	a.bodies = append(a.bodies, body)
	a.auths = append(a.auths, r.Header.Get("Authorization"))
	a.mu.Unlock()
	f := a.plan.Next()
	if fault.Before(w, f) {
		return
	}
	if r.Header.Get("Authorization") != "Token "+a.valid {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"detail":"Invalid token ` + strings.TrimPrefix(r.Header.Get("Authorization"), "Token ") + `"}`))
		return
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.errBody))
		return
	}
	fault.Respond(w, f, 200, "application/json", []byte(`{"total":1,"hasNext":false,"data":[{"_id":"a1","created":5,"timestamp":4}]}`))
}

func newTestClient(t *testing.T, a *api, toks *tokens, p Pacer) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(a)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/api/v1/activities/", toks, p, Options{HTTPClient: srv.Client(), BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestRequestShape(t *testing.T) {
	a := &api{valid: secretToken}
	p := &countingPacer{}
	c, _ := newTestClient(t, a, &tokens{values: []string{secretToken}}, p)
	q := Query{CreatedFrom: 1000, CreatedTo: 2000, Skip: 7, Limit: 500, Filters: map[string]json.RawMessage{"service": json.RawMessage(`{"eq":[11161]}`)}}
	page, err := c.Activities(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.HasNext {
		t.Errorf("page = %+v, want one activity and no more", page)
	}
	want := map[string]any{
		"filters":       map[string]any{"created": map[string]any{"gte": 1000.0, "lte": 2000.0}, "service": map[string]any{"eq": []any{11161.0}}},
		"sortField":     "created",
		"sortDirection": "asc",
		"skip":          7.0,
		"limit":         100.0, // capped: the API would cut it silently anyway
	}
	if diff := cmp.Diff(want, a.bodies[0]); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
	if a.auths[0] != "Token "+secretToken {
		t.Errorf("Authorization = %q, want the Token scheme", a.auths[0])
	}
	if p.n.Load() != 1 || p.sent.Load() != 1 || c.Stats().Calls != 1 {
		t.Errorf("paced %d, told sent %d, calls %d; want 1 each", p.n.Load(), p.sent.Load(), c.Stats().Calls)
	}
}

func TestScanRequestShape(t *testing.T) {
	a := &api{valid: secretToken}
	c, _ := newTestClient(t, a, &tokens{values: []string{secretToken}}, &countingPacer{})
	filters := json.RawMessage(`{"date":{"lte":2000,"range":{"start":1000,"end":2000}},"service":{"eq":[11161]}}`)
	if _, err := c.Scan(context.Background(), filters, 99999); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"filters":       map[string]any{"date": map[string]any{"lte": 2000.0, "range": map[string]any{"start": 1000.0, "end": 2000.0}}, "service": map[string]any{"eq": []any{11161.0}}},
		"isScan":        true,
		"limit":         float64(MaxScanLimit),
		"sortField":     "date",
		"sortDirection": "desc",
	}
	if diff := cmp.Diff(want, a.bodies[0]); diff != "" {
		t.Errorf("scan request body (-want +got):\n%s", diff)
	}
}

func TestNewClientRequiresTrailingSlash(t *testing.T) {
	if _, err := NewClient("https://t.us3.portal.cloudappsecurity.com/api/v1/activities", &tokens{}, &countingPacer{}, Options{}); err == nil {
		t.Error("NewClient accepted an activities URL without the trailing slash")
	}
}

func TestFailuresAndRecovery(t *testing.T) {
	tests := []struct {
		name       string
		faults     []fault.Fault
		status     int
		errBody    string
		tokens     []string
		deadline   time.Duration
		wantErr    func(error) bool
		wantMsg    string
		wantCalls  int64
		wantThrott int64
		minElapsed time.Duration
		maxElapsed time.Duration
	}{
		{name: "rotated token is re-read once after 401", tokens: []string{"stale-token-value", secretToken}, wantCalls: 2},
		{name: "rejected token fails with 401", tokens: []string{"wrong-token-1", "wrong-token-2"}, wantCalls: 2,
			wantErr: isStatus(401), wantMsg: "401 Unauthorized"},
		{name: "429 honours Retry-After", faults: []fault.Fault{{Kind: fault.Status, Status: 429, RetryAfter: "1"}}, wantCalls: 2, wantThrott: 1, minElapsed: 900 * time.Millisecond},
		{name: "429 without Retry-After backs off and goes on", faults: []fault.Fault{{Kind: fault.Status, Status: 429}, {Kind: fault.Status, Status: 429}}, wantCalls: 3, wantThrott: 2},
		{name: "hostile Retry-After stops at the deadline", faults: []fault.Fault{{Kind: fault.Status, Status: 429, RetryAfter: "999999"}}, deadline: 2 * time.Second,
			wantErr: func(err error) bool { return errors.Is(err, ErrDeadline) }, wantCalls: 1, wantThrott: 1, maxElapsed: time.Second},
		{name: "5xx retried then succeeds", faults: []fault.Fault{{Kind: fault.HTMLPage, Status: 502}, {Kind: fault.Status, Status: 503}}, wantCalls: 3},
		{name: "503 honours Retry-After", faults: []fault.Fault{{Kind: fault.Status, Status: 503, RetryAfter: "1"}}, wantCalls: 2, minElapsed: 900 * time.Millisecond},
		{name: "connection reset retried", faults: []fault.Fault{{Kind: fault.Reset}}, wantCalls: 2},
		{name: "truncated body retried", faults: []fault.Fault{{Kind: fault.Truncate}}, wantCalls: 2},
		{name: "5xx retries are bounded", faults: []fault.Fault{{Kind: fault.Status, Status: 500}, {Kind: fault.Status, Status: 500}, {Kind: fault.Status, Status: 500}, {Kind: fault.Status, Status: 500}, {Kind: fault.Status, Status: 500}},
			wantErr: isStatus(500), wantCalls: 4},
		{name: "HTML page with 200 fails loudly", faults: []fault.Fault{{Kind: fault.HTMLPage}}, wantCalls: 1,
			wantErr: isBadResponse, wantMsg: "HTML page"},
		{name: "malformed JSON fails loudly", status: 200, errBody: `{"data":[{"_id":`, wantCalls: 1, wantErr: isBadResponse, wantMsg: "not valid JSON"},
		{name: "no data array fails loudly", status: 200, errBody: `{"total":0}`, wantCalls: 1, wantErr: isBadResponse, wantMsg: `no "data" array`},
		{name: "400 carries the API's message", status: 400, errBody: `{"filters":[{"error":"created.foo is not valid","errorMessageCode":"CONSOLE_FORMS_NOT_VALID_VALUE"}],"error":true}`,
			wantCalls: 1, wantErr: isStatus(400), wantMsg: "created.foo is not valid"},
		{name: "403 is not retried", status: 403, errBody: `{"detail":"permission denied"}`, wantCalls: 1, wantErr: isStatus(403), wantMsg: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &api{valid: secretToken, status: tt.status, errBody: tt.errBody}
			a.plan.Push(tt.faults...)
			toks := tt.tokens
			if toks == nil {
				toks = []string{secretToken}
			}
			c, _ := newTestClient(t, a, &tokens{values: toks}, &countingPacer{})
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			start := time.Now()
			_, err := c.Activities(ctx, Query{CreatedFrom: 1, CreatedTo: 2})
			elapsed := time.Since(start)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Activities() error = %v, want success", err)
			case tt.wantErr != nil && (err == nil || !tt.wantErr(err)):
				t.Fatalf("Activities() error = %v (%T), not the expected kind", err, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			for _, tok := range append(toks, secretToken) {
				if err != nil && strings.Contains(err.Error(), tok) {
					t.Errorf("error reveals a token: %q", err)
				}
			}
			if st := c.Stats(); st.Calls != tt.wantCalls || st.Throttled != tt.wantThrott {
				t.Errorf("Stats() = %+v, want %d calls, %d throttled", st, tt.wantCalls, tt.wantThrott)
			}
			if elapsed < tt.minElapsed || (tt.maxElapsed > 0 && elapsed > tt.maxElapsed) {
				t.Errorf("took %s, want between %s and %s", elapsed, tt.minElapsed, tt.maxElapsed)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0.5":                           500 * time.Millisecond,
		"-4":                            0,
		"soon":                          0,
		"1e300":                         MaxRetryAfter,
		"NaN":                           0,
		"Tue, 24 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 31 Dec 9999 23:59:59 GMT": MaxRetryAfter,
		"Tue, 24 Nov 2026 11:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func isStatus(code int) func(error) bool {
	return func(err error) bool {
		var e *APIError
		return errors.As(err, &e) && e.StatusCode == code
	}
}

func isBadResponse(err error) bool {
	var e *BadResponseError
	return errors.As(err, &e)
}

func TestDecodePageToleratesAnOddTotal(t *testing.T) {
	// total is approximate and unused: a value Go cannot hold must not cost the page.
	for _, body := range []string{`{"total":1e400,"hasNext":false,"data":[{"_id":"a"}]}`, `{"total":"many","data":[{"_id":"a"}]}`, `{"data":[{"_id":"a"}]}`} {
		page, err := decodePage([]byte(body), "")
		if err != nil || len(page.Data) != 1 {
			t.Errorf("decodePage(%s) = %d activities, %v; want the one activity", body, len(page.Data), err)
		}
	}
}

// chunkReader returns its content a few bytes per Read, then err.
type chunkReader struct {
	s   string
	n   int
	err error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, r.err
	}
	n := copy(p, r.s[:min(r.n, len(r.s))])
	r.s = r.s[n:]
	return n, nil
}

func TestReadBody(t *testing.T) {
	body := strings.Repeat("0123456789", 100) // 1,000 bytes
	cut := errors.New("connection reset")
	cases := []struct {
		name          string
		contentLength int64
		limit         int
		dst           []byte
		readErr       error
		want          string
		wantErr       error
	}{
		{"length known", 1000, 4096, nil, io.EOF, body, nil},
		{"length unknown (chunked)", -1, 4096, nil, io.EOF, body, nil},
		{"length understated", 10, 4096, nil, io.EOF, body, nil},
		{"reused buffer, larger", 1000, 4096, make([]byte, 0, 2000), io.EOF, body, nil},
		{"reused buffer, smaller", -1, 4096, make([]byte, 0, 7), io.EOF, body, nil},
		{"over the limit: limit+1 bytes read", 1000, 100, nil, io.EOF, body[:101], nil},
		{"over the limit, length unknown", -1, 100, nil, io.EOF, body[:101], nil},
		{"cut short", 2000, 4096, nil, cut, body, cut},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(tc.dst, &chunkReader{s: body, n: 37, err: tc.readErr}, tc.contentLength, tc.limit)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReleasedBuffersAreReused: a released page's buffer serves a later
// call, once however often it is released, and a page not released is never
// read into.
func TestReleasedBuffersAreReused(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.Repeat(strconv.FormatInt(n.Add(1), 10), 50)
		_, _ = io.WriteString(w, `{"total":1,"hasNext":false,"data":[{"_id":"`+id+`","created":5}]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/api/v1/activities/", &tokens{values: []string{secretToken}}, &countingPacer{}, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	get := func() Page {
		p, err := c.Activities(t.Context(), Query{CreatedFrom: 1, CreatedTo: 2})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := get()
	first := &p1.Data[0][0]
	p1copy := p1
	p1.Release()
	p1copy.Release() // kept once, not twice
	p2, p3 := get(), get()
	if &p2.Data[0][0] != first {
		t.Error("the released buffer was not used by the next call")
	}
	if &p3.Data[0][0] == first {
		t.Error("a buffer released twice served two calls")
	}
	for i, p := range []Page{p2, p3} {
		want := `{"_id":"` + strings.Repeat(strconv.Itoa(i+2), 50) + `","created":5}`
		if diff := cmp.Diff(want, string(p.Data[0])); diff != "" {
			t.Errorf("page %d (-want +got):\n%s", i+2, diff)
		}
	}
}

// TestEarlierPagesStayIntact: a page's activities are slices of its body,
// so no later call may read into that body.
func TestEarlierPagesStayIntact(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		id := strings.Repeat(strconv.FormatInt(i, 10), 50)
		_, _ = io.WriteString(w, `{"total":1,"hasNext":false,"data":[{"_id":"`+id+`","created":5}]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/api/v1/activities/", &tokens{values: []string{secretToken}}, &countingPacer{}, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	var pages []Page
	for range 3 {
		p, err := c.Activities(t.Context(), Query{CreatedFrom: 1, CreatedTo: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	for i, p := range pages {
		want := `{"_id":"` + strings.Repeat(strconv.Itoa(i+1), 50) + `","created":5}`
		if diff := cmp.Diff(want, string(p.Data[0])); diff != "" {
			t.Errorf("page %d after later calls (-want +got):\n%s", i+1, diff)
		}
	}
}

// A 200 answer that is not a page and echoes the Authorization header (a
// misbehaving proxy or server) fails without the token, or any part of it,
// in the error: the message quotes the body's start, and a token cut by that
// quote would escape a redaction of the whole token further up.
func TestBadAnswerEchoingTheTokenDoesNotLeakIt(t *testing.T) {
	for name, body := range map[string]func(auth string) string{
		"truncated JSON": func(auth string) string { return `{"echo":"` + auth + `","data":[` },
		"no data array":  func(auth string) string { return `{"echo":"` + auth + `"}` },
		"plain text":     func(auth string) string { return `debug: Authorization: ` + auth },
		"token cut by the quote": func(auth string) string {
			return `{"x":"` + strings.Repeat("p", maxMessage-40) + `","echo":"` + auth + `"}`
		},
		"scan: nextQueryFilters": func(auth string) string {
			return `{"hasNext":true,"nextQueryFilters":"` + auth + `","data":[]}`
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body(r.Header.Get("Authorization"))))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL+"/api/v1/activities/", &tokens{values: []string{secretToken}}, &countingPacer{}, Options{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "scan") {
				_, err = c.Scan(context.Background(), json.RawMessage(`{}`), MinScanLimit)
			} else {
				_, err = c.Activities(context.Background(), Query{CreatedFrom: 1, CreatedTo: 2})
			}
			if !isBadResponse(err) {
				t.Fatalf("error %v (%T), want a *BadResponseError", err, err)
			}
			if msg := err.Error(); strings.Contains(msg, secretToken[:16]) || strings.Contains(msg, secretToken[len(secretToken)-16:]) {
				t.Errorf("the error reveals the token or part of it: %s", msg)
			}
		})
	}
}

// Promise 5 in scan mode: the answer alone says whether the window goes on
// (hasNext), and a page taken for the last ends the window, moving the
// checkpoint past every activity the scan has not reached. An answer that
// does not say, or says it with null, is a bad answer, not the last page.
// List mode reads on from its cursor either way, and keeps tolerating it.
func TestScanAnswerWithoutHasNextIsBad(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		bad        bool
	}{
		{"hasNext false", `{"data":[{"_id":"a"}],"hasNext":false}`, false},
		{"hasNext true", `{"data":[{"_id":"a"}],"hasNext":true,"nextQueryFilters":{"date":{"lte":5}}}`, false},
		{"no hasNext", `{"data":[{"_id":"a"}],"total":9000}`, true},
		{"no hasNext, but a continuation", `{"data":[{"_id":"a"}],"nextQueryFilters":{"date":{"lte":5}}}`, true},
		{"null hasNext", `{"data":[{"_id":"a"}],"hasNext":null,"nextQueryFilters":{"date":{"lte":5}}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL+"/api/v1/activities/", &tokens{values: []string{secretToken}}, &countingPacer{}, Options{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			page, err := c.Scan(context.Background(), json.RawMessage(`{}`), MinScanLimit)
			if isBadResponse(err) != tc.bad {
				t.Errorf("Scan: page %+v, error %v; want a bad response: %v", page, err, tc.bad)
			}
			if _, err := c.Activities(context.Background(), Query{CreatedFrom: 1, CreatedTo: 2}); err != nil {
				t.Errorf("Activities: %v, want list mode to read the page", err)
			}
		})
	}
}
