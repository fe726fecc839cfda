package funchost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testFunction = "MCASTimerTrigger"

// lockedBuffer is a goroutine-safe log sink; server goroutines write while the
// test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes the JSON log lines written so far.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

type testLogs struct{ stdout, stderr lockedBuffer }

func newTestLogger() (*slog.Logger, *testLogs) {
	l := &testLogs{}
	return NewLogger(&l.stdout, &l.stderr, slog.LevelDebug), l
}

func post(t *testing.T, h http.Handler, body, invocationID string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+testFunction, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if invocationID != "" {
		req.Header.Set(InvocationIDHeader, invocationID)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// compactJSON returns body compacted, failing the test when it is not JSON.
func compactJSON(t *testing.T, body []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	return buf.String()
}

func okInvoke(logs ...string) InvokeFunc {
	return func(context.Context, Invocation) (Result, error) { return Result{Logs: logs}, nil }
}

func TestHandlerRoutes(t *testing.T) {
	logger, _ := newTestLogger()
	h := NewHandler(testFunction, okInvoke(), logger)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/" + testFunction, http.StatusMethodNotAllowed},
		{http.MethodPut, "/" + testFunction, http.StatusMethodNotAllowed},
		{http.MethodPost, "/OtherFunction", http.StatusNotFound},
		{http.MethodPost, "/" + testFunction + "/x", http.StatusNotFound},
		{http.MethodGet, "/healthz", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(payloadNullStatus)))
			if rec.Code != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
			}
		})
	}
}

func TestHandlerSuccess(t *testing.T) {
	tests := []struct {
		name string
		body string
		logs []string
		want string
	}{
		{"null schedule status", payloadNullStatus, []string{"fetched 3 activities", "checkpoint=2026-09-24T13:07:00Z"},
			`{"Outputs":{},"Logs":["fetched 3 activities","checkpoint=2026-09-24T13:07:00Z"],"ReturnValue":null}`},
		{"seven-digit fractions", payloadDotNet, []string{"ok"}, `{"Outputs":{},"Logs":["ok"],"ReturnValue":null}`},
		{"offset-less", payloadOffsetless, nil, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"past due", payloadPastDue, []string{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"no metadata", payloadNoMetadata, nil, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := newTestLogger()
			var got Invocation
			h := NewHandler(testFunction, func(_ context.Context, inv Invocation) (Result, error) {
				got = inv
				return Result{Logs: tt.logs}, nil
			}, logger)

			rec := post(t, h, tt.body, "inv-123")
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if diff := cmp.Diff(tt.want, compactJSON(t, rec.Body.Bytes())); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
			want, err := DecodeInvocation([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "inv-123" {
				t.Errorf("Invocation.ID = %q, want the header's %q", got.ID, "inv-123")
			}
			if diff := cmp.Diff(want.Timer, got.Timer); diff != "" {
				t.Errorf("Invocation.Timer mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Sys, got.Sys); diff != "" {
				t.Errorf("Invocation.Sys mismatch (-want +got):\n%s", diff)
			}
			if s := logs.stderr.String(); s != "" {
				t.Errorf("stderr = %q, want nothing on success", s)
			}
		})
	}
}

func TestHandlerFailure(t *testing.T) {
	logger, logs := newTestLogger()
	h := NewHandler(testFunction, func(context.Context, Invocation) (Result, error) {
		return Result{Logs: []string{"fetched 2 pages"}}, errors.New("fetch activities: 401 unauthorized")
	}, logger)

	rec := post(t, h, payloadDotNet, "inv-fail")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	want := `{"Outputs":{},"Logs":["fetched 2 pages","error: fetch activities: 401 unauthorized"],"ReturnValue":null}`
	if diff := cmp.Diff(want, compactJSON(t, rec.Body.Bytes())); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
	// The host drops Logs of a failed invocation: the error must be on stderr,
	// at Error level, with the invocation id.
	var found bool
	for _, r := range logs.stderr.records(t) {
		if r["level"] == "ERROR" && r["invocation_id"] == "inv-fail" && r["error"] == "fetch activities: 401 unauthorized" {
			found = true
		}
	}
	if !found {
		t.Errorf("stderr = %q, want an ERROR record with invocation_id inv-fail and the error", logs.stderr.String())
	}
	// "unauthorized", not "401": a nanosecond timestamp can hold "401".
	if strings.Contains(logs.stdout.String(), "unauthorized") {
		t.Errorf("stdout = %q, want the error on stderr only", logs.stdout.String())
	}
}

func TestHandlerBadRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not json", `{"Data":`, http.StatusBadRequest},
		{"no timer binding", `{"Data":{}}`, http.StatusBadRequest},
		{"wrong types", `{"Data":{"timer":{"IsPastDue":"yes"}}}`, http.StatusBadRequest},
		{"too large", `{"Data":{"timer":{}},"Metadata":{"pad":"` + strings.Repeat("x", MaxRequestBytes) + `"}}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := newTestLogger()
			called := false
			h := NewHandler(testFunction, func(context.Context, Invocation) (Result, error) {
				called = true
				return Result{}, nil
			}, logger)
			rec := post(t, h, tt.body, "inv-bad")
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
			if called {
				t.Error("invoke was called for a bad request")
			}
			var resp Response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if resp.Outputs == nil || len(resp.Logs) != 1 || !strings.HasPrefix(resp.Logs[0], "error: ") {
				t.Errorf("body = %s, want the response shape with one error log", rec.Body)
			}
			if !strings.Contains(logs.stderr.String(), `"invocation_id":"inv-bad"`) {
				t.Errorf("stderr = %q, want the error logged with the invocation id", logs.stderr.String())
			}
		})
	}
}

func TestHandlerPanic(t *testing.T) {
	logger, logs := newTestLogger()
	h := NewHandler(testFunction, func(context.Context, Invocation) (Result, error) {
		panic("boom")
	}, logger)
	rec := post(t, h, payloadNullStatus, "inv-panic")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "invocation panicked: boom") {
		t.Errorf("body = %s, want the panic reported", rec.Body)
	}
	if !strings.Contains(logs.stderr.String(), "invocation panicked") {
		t.Errorf("stderr = %q, want the panic logged", logs.stderr.String())
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHandlerInvocationIDReachesLogger(t *testing.T) {
	for _, header := range []string{"7b3c1d4e-0000-4000-8000-000000000001", ""} {
		t.Run("header="+header, func(t *testing.T) {
			logger, logs := newTestLogger()
			var id string
			h := NewHandler(testFunction, func(_ context.Context, inv Invocation) (Result, error) {
				id = inv.ID
				inv.Logger.Info("page fetched", "rows", 100)
				return Result{}, nil
			}, logger)
			if rec := post(t, h, payloadNullStatus, header); rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if header != "" && id != header {
				t.Errorf("Invocation.ID = %q, want %q", id, header)
			}
			if header == "" && !uuidRE.MatchString(id) {
				t.Errorf("generated Invocation.ID = %q, want a random UUID", id)
			}
			var found bool
			for _, r := range logs.stdout.records(t) {
				if r["msg"] == "page fetched" {
					found = true
					if r["invocation_id"] != id || r["function"] != testFunction {
						t.Errorf("record %v, want invocation_id %q and function %q", r, id, testFunction)
					}
				}
			}
			if !found {
				t.Errorf("stdout = %q, want the invocation's log line", logs.stdout.String())
			}
		})
	}
}

type ctxKey struct{}

func TestHandlerContextFromRequest(t *testing.T) {
	logger, _ := newTestLogger()
	reqCtx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "from-request"))
	h := NewHandler(testFunction, func(ctx context.Context, _ Invocation) (Result, error) {
		if ctx.Value(ctxKey{}) != "from-request" {
			t.Error("invoke ctx is not derived from the request context")
		}
		cancel() // the host went away
		<-ctx.Done()
		return Result{}, ctx.Err()
	}, logger)
	req := httptest.NewRequestWithContext(reqCtx, http.MethodPost, "/"+testFunction, strings.NewReader(payloadNullStatus))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "context canceled") {
		t.Errorf("got %d %s, want 500 with the cancellation", rec.Code, rec.Body)
	}
}

func TestHandlerDoesNotLogHeaders(t *testing.T) {
	logger, logs := newTestLogger()
	h := NewHandler(testFunction, func(context.Context, Invocation) (Result, error) {
		return Result{}, errors.New("failed")
	}, logger)
	req := httptest.NewRequest(http.MethodPost, "/"+testFunction, strings.NewReader(payloadNullStatus))
	req.Header.Set("Authorization", "Token header-secret")
	req.Header.Set("X-Functions-Key", "header-secret")
	h.ServeHTTP(httptest.NewRecorder(), req)
	all := logs.stdout.String() + logs.stderr.String()
	if strings.Contains(all, "header-secret") {
		t.Errorf("logs contain a request header value: %s", all)
	}
}

func TestNewHandlerPanicsOnBadName(t *testing.T) {
	logger, _ := newTestLogger()
	for _, name := range []string{"", "a/b", "{x}", "9lives", "has space"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHandler(%q) did not panic", name)
				}
			}()
			NewHandler(name, okInvoke(), logger)
		}()
	}
}

func TestNewLogger(t *testing.T) {
	var stdout, stderr bytes.Buffer
	logger := NewLogger(&stdout, &stderr, slog.LevelInfo).With("invocation_id", "abc").WithGroup("g")
	ctx := context.Background()
	logger.Debug("dropped debug")
	logger.Info("an info", "k", 1)
	logger.Warn("a warning")
	logger.Error("an error", "error", "boom")
	if !logger.Enabled(ctx, slog.LevelInfo) || logger.Enabled(ctx, slog.LevelDebug) {
		t.Error("Enabled does not follow the level")
	}

	msgs := func(b *bytes.Buffer) []string {
		var out []string
		dec := json.NewDecoder(b)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err == io.EOF {
				return out
			} else if err != nil {
				t.Fatal(err)
			}
			if m["invocation_id"] != "abc" {
				t.Errorf("record %v lost the logger's attributes", m)
			}
			out = append(out, m["level"].(string)+" "+m["msg"].(string))
		}
	}
	if diff := cmp.Diff([]string{"INFO an info"}, msgs(&stdout)); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"WARN a warning", "ERROR an error"}, msgs(&stderr)); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}
}

// WithRedact reaches every message the handler writes: a failure's error, a
// panic's value and the Logs lines, in the answer and in the log.
func TestHandlerRedacts(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	redact := WithRedact(func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") })
	for name, invoke := range map[string]InvokeFunc{
		"success": okInvoke("forwarded with " + secret),
		"failure": func(context.Context, Invocation) (Result, error) {
			return Result{Logs: []string{"summary " + secret}}, errors.New("401 for " + secret)
		},
		"panic": func(context.Context, Invocation) (Result, error) { panic("token " + secret) },
	} {
		t.Run(name, func(t *testing.T) {
			logger, logs := newTestLogger()
			rec := post(t, NewHandler(testFunction, invoke, logger, redact), payloadNullStatus, "inv-redact")
			for where, text := range map[string]string{"answer": rec.Body.String(), "stdout": logs.stdout.String(), "stderr": logs.stderr.String()} {
				if strings.Contains(text, secret) {
					t.Errorf("the %s holds the secret: %s", where, text)
				}
			}
			if !strings.Contains(rec.Body.String(), "[REDACTED]") {
				t.Errorf("answer %s, want the redacted line in it", rec.Body)
			}
		})
	}
}
