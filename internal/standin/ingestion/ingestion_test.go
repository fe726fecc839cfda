package ingestion_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/ingestion/azlogs"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/identity"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/ingestion"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

const ruleID = "dcr-0123456789abcdef0123456789abcdef"

var (
	activity = schema.Activity().Stream
	health   = schema.Health().Stream
)

type env struct {
	id   *identity.Server
	in   *ingestion.Server
	srv  *httptest.Server
	cred azcore.TokenCredential
	dir  string
}

var clientIDs atomic.Int64

// newEnv starts the identity stand-in (plain HTTP, as on App Service) and the
// ingestion endpoint (TLS), and points azidentity at the former.
func newEnv(t *testing.T, maxBytes int) *env {
	t.Helper()
	id := identity.New(identity.Options{})
	idSrv := httptest.NewServer(id)
	t.Cleanup(idSrv.Close)
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, kv := range id.Env(idSrv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// A client id of its own keeps MSAL's process-wide cache from answering
	// with a token from an earlier test's endpoint.
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
		ID:            azidentity.ClientID(fmt.Sprintf("%s-%d", t.Name(), clientIDs.Add(1))),
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, err := ingestion.New(ingestion.Options{RuleID: ruleID, Validate: id.Validate, MaxBytes: maxBytes, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(in)
	t.Cleanup(srv.Close)
	return &env{id: id, in: in, srv: srv, cred: cred, dir: dir}
}

// client is the real azlogs client; retry options as given (none by default).
func (e *env) client(t *testing.T, cred azcore.TokenCredential, retry *policy.RetryOptions) *azlogs.Client {
	t.Helper()
	r := policy.RetryOptions{MaxRetries: -1}
	if retry != nil {
		r = *retry
	}
	c, err := azlogs.NewClient(e.srv.URL, cred, &azlogs.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.srv.Client(), Retry: r}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func upload(t *testing.T, c *azlogs.Client, rule, stream string, body []byte, gz bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var opts *azlogs.UploadOptions
	if gz {
		body = gzipBytes(t, body)
		opts = &azlogs.UploadOptions{ContentEncoding: to.Ptr("gzip")}
	}
	_, err := c.Upload(ctx, rule, stream, body, opts)
	return err
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func strs(rows []json.RawMessage) []string {
	var out []string
	for _, r := range rows {
		out = append(out, string(r))
	}
	return out
}

func TestUpload(t *testing.T) {
	tests := []struct {
		name string
		gzip bool
	}{
		{"plain", false},
		{"gzip", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			c := e.client(t, e.cred, nil)
			body := []byte(`[
  {"TimeGenerated": "2026-05-01T10:00:00.123Z", "ActivityId": "a1", "Activity": {"x": [1, 2]}, "NotAColumn": 1},
  {"ActivityId": "a2", "TimeGenerated": "2026-05-01T10:00:01+02:00", "IsSuccess": true, "_extra": null}
]`)
			if err := upload(t, c, ruleID, activity, body, tt.gzip); err != nil {
				t.Fatalf("Upload: %v", err)
			}
			if err := upload(t, c, ruleID, health, []byte(`[{"TimeGenerated":"2026-05-01T10:05:00Z","Outcome":"success"}]`), tt.gzip); err != nil {
				t.Fatalf("Upload health: %v", err)
			}

			wantRows := []string{
				`{"TimeGenerated":"2026-05-01T10:00:00.123Z","ActivityId":"a1","Activity":{"x":[1,2]}}`,
				`{"ActivityId":"a2","TimeGenerated":"2026-05-01T10:00:01+02:00","IsSuccess":true}`,
			}
			if diff := cmp.Diff(wantRows, strs(e.in.Rows(activity))); diff != "" {
				t.Errorf("Rows(activity) (-want +got):\n%s", diff)
			}
			wantHealth := []string{`{"TimeGenerated":"2026-05-01T10:05:00Z","Outcome":"success"}`}
			if diff := cmp.Diff(wantHealth, strs(e.in.Rows(health))); diff != "" {
				t.Errorf("Rows(health) (-want +got):\n%s", diff)
			}

			ups := e.in.Uploads()
			if len(ups) != 2 {
				t.Fatalf("Uploads() = %+v, want 2", ups)
			}
			want := ingestion.Upload{Stream: activity, Rows: 2, Bytes: len(body), Gzip: tt.gzip, Dropped: []string{"NotAColumn", "_extra"}}
			got := ups[0]
			if !tt.gzip && got.WireBytes != len(body) || tt.gzip && got.WireBytes >= len(body) {
				t.Errorf("WireBytes = %d for a %d-byte body", got.WireBytes, len(body))
			}
			if got.Accepted.IsZero() {
				t.Error("Accepted is not set")
			}
			got.WireBytes, got.Accepted = 0, time.Time{}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Uploads()[0] (-want +got):\n%s", diff)
			}

			// The files make run shows, one row per line.
			for stream, rows := range map[string][]string{activity: wantRows, health: wantHealth} {
				file := e.in.File(stream)
				if file != filepath.Join(e.dir, strings.TrimPrefix(stream, "Custom-")+".jsonl") {
					t.Errorf("File(%s) = %s", stream, file)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(strings.Join(rows, "\n")+"\n", string(b)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", file, diff)
				}
			}
			if n := e.id.TokenRequests(); n != 1 {
				t.Errorf("identity TokenRequests() = %d, want 1", n)
			}
		})
	}
}

// rowsOfSize builds an activity upload of at least n bytes.
func rowsOfSize(n int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"TimeGenerated":"2026-05-01T10:00:00Z","ActivityId":"a%d","Description":"%s"}`, i, strings.Repeat("x", 200))
	}
	b.WriteString("]")
	return b.Bytes()
}

func TestRejected(t *testing.T) {
	const limit = 4096
	tests := []struct {
		name       string
		rule       string
		stream     string
		body       []byte
		gzip       bool
		encoding   string // sent as Content-Encoding without compressing
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{name: "at the limit", body: rowsOfSize(limit - 300)},
		{name: "over the limit", body: rowsOfSize(limit + 1), wantStatus: 413, wantCode: ingestion.CodeTooLarge},
		{name: "over the limit once decompressed", body: rowsOfSize(4 * limit), gzip: true, wantStatus: 413, wantCode: ingestion.CodeTooLarge},
		{name: "unknown rule", rule: "dcr-ffffffffffffffffffffffffffffffff", wantStatus: 404, wantCode: ingestion.CodeRuleNotFound},
		{name: "unknown stream", stream: "Custom-Other_CL", wantStatus: 400, wantCode: ingestion.CodeInvalidStream},
		{name: "stream named by its table", stream: "MCAS_Activity_Log_CL", wantStatus: 400, wantCode: ingestion.CodeInvalidStream},
		{name: "no TimeGenerated", body: []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z"},{"ActivityId":"a"}]`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload, wantMsg: "row 1: TimeGenerated is missing"},
		{name: "TimeGenerated not RFC 3339", body: []byte(`[{"TimeGenerated":"2026-05-01 10:00:00"}]`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload, wantMsg: "row 0: TimeGenerated"},
		{name: "TimeGenerated a number", body: []byte(`[{"TimeGenerated":1767261600000}]`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload, wantMsg: "row 0: TimeGenerated"},
		{name: "not an array", body: []byte(`{"TimeGenerated":"2026-05-01T10:00:00Z"}`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload},
		{name: "row not an object", body: []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z"},[1]]`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload, wantMsg: "row 1: not a JSON object"},
		{name: "truncated JSON", body: []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z"}`), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload},
		{name: "not UTF-8", body: []byte("[{\"TimeGenerated\":\"2026-05-01T10:00:00Z\",\"ActivityId\":\"\xff\"}]"), wantStatus: 400, wantCode: ingestion.CodeInvalidPayload},
		{name: "claims gzip, is not", encoding: "gzip", wantStatus: 400, wantCode: ingestion.CodeInvalidPayload},
		{name: "unsupported encoding", encoding: "br", wantStatus: 400, wantCode: ingestion.CodeInvalidEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, limit)
			c := e.client(t, e.cred, nil)
			rule, stream, body := ruleID, activity, []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z"}]`)
			if tt.rule != "" {
				rule = tt.rule
			}
			if tt.stream != "" {
				stream = tt.stream
			}
			if tt.body != nil {
				body = tt.body
			}
			if tt.gzip && tt.wantStatus == http.StatusRequestEntityTooLarge && len(gzipBytes(t, body)) > limit {
				t.Fatal("the compressed body is over the limit itself: the test would not reach decompression")
			}
			var err error
			if tt.encoding != "" {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = c.Upload(ctx, rule, stream, body, &azlogs.UploadOptions{ContentEncoding: to.Ptr(tt.encoding)})
			} else {
				err = upload(t, c, rule, stream, body, tt.gzip)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Upload: %v", err)
				}
				return
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want *azcore.ResponseError", err)
			}
			if re.StatusCode != tt.wantStatus || re.ErrorCode != tt.wantCode {
				t.Errorf("status %d code %q, want %d %q", re.StatusCode, re.ErrorCode, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if n := len(e.in.Uploads()); n != 0 {
				t.Errorf("%d uploads recorded, want none", n)
			}
			if _, err := os.Stat(e.in.File(activity)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output file exists after a rejected upload (stat: %v)", err)
			}
		})
	}
}

// staticCred hands out a fixed token, whatever is asked for.
type staticCred string

func (c staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// scopeCred asks its credential for another scope than the one requested.
type scopeCred struct {
	azcore.TokenCredential
	scope string
}

func (c scopeCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	o.Scopes = []string{c.scope}
	return c.TokenCredential.GetToken(ctx, o)
}

func TestBadToken(t *testing.T) {
	e := newEnv(t, 0)
	tests := []struct {
		name string
		cred azcore.TokenCredential
	}{
		{"not a JWT", staticCred("not-a-token")},
		{"Key Vault token", scopeCred{e.cred, "https://vault.azure.net/.default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := upload(t, e.client(t, tt.cred, nil), ruleID, activity, []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z"}]`), false)
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
				t.Fatalf("error = %v, want 401", err)
			}
		})
	}
	if n := len(e.in.Uploads()); n != 0 {
		t.Errorf("%d uploads recorded, want none", n)
	}
}

func TestFaults(t *testing.T) {
	rows := []byte(`[{"TimeGenerated":"2026-05-01T10:00:00Z","ActivityId":"a1"}]`)
	tests := []struct {
		name       string
		fault      fault.Fault
		wantStored bool // the rows were recorded although the client saw an error
		wantStatus int  // the ResponseError's status, 0 for a transport error
	}{
		{name: "accepted, then the connection drops", fault: fault.Fault{Kind: fault.AcceptThenReset}, wantStored: true},
		{name: "reset before answering", fault: fault.Fault{Kind: fault.Reset}},
		{name: "throttled", fault: fault.Fault{Kind: fault.Status, Status: 429, RetryAfter: "1"}, wantStatus: 429},
		{name: "forbidden", fault: fault.Fault{Kind: fault.Status, Status: 403, Body: `{"error":{"code":"OperationFailed","message":"IsRbacPresent: False"}}`}, wantStatus: 403},
		{name: "gateway page", fault: fault.Fault{Kind: fault.HTMLPage, Status: 502}, wantStatus: 502},
		{name: "html page with 200", fault: fault.Fault{Kind: fault.HTMLPage}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			c := e.client(t, e.cred, nil)
			e.in.Faults.Push(tt.fault)
			err := upload(t, c, ruleID, activity, rows, true)
			if err == nil {
				t.Fatal("Upload succeeded, want an error")
			}
			var re *azcore.ResponseError
			if errors.As(err, &re) != (tt.wantStatus != 0) || tt.wantStatus != 0 && re.StatusCode != tt.wantStatus {
				t.Errorf("error = %v, want status %d", err, tt.wantStatus)
			}
			want := 0
			if tt.wantStored {
				want = 1
			}
			if got := len(e.in.Rows(activity)); got != want {
				t.Errorf("%d rows stored, want %d", got, want)
			}
			// The client can send again; after a dropped acceptance that duplicates the rows.
			if err := upload(t, c, ruleID, activity, rows, true); err != nil {
				t.Fatalf("Upload after the fault: %v", err)
			}
			if got := len(e.in.Rows(activity)); got != want+1 {
				t.Errorf("%d rows stored after resending, want %d", got, want+1)
			}
		})
	}

	t.Run("delay", func(t *testing.T) {
		e := newEnv(t, 0)
		e.in.Faults.Push(fault.Fault{Kind: fault.Delay, Delay: 200 * time.Millisecond})
		start := time.Now()
		if err := upload(t, e.client(t, e.cred, nil), ruleID, activity, rows, false); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("took %s, want at least the injected delay", d)
		}
		// Accepted comes after the delay.
		ups := e.in.Uploads()
		if len(ups) != 1 {
			t.Fatalf("Uploads() = %+v, want 1", ups)
		}
		if up := ups[0]; up.Accepted.Sub(start) < 200*time.Millisecond {
			t.Errorf("Accepted %s, %s after the upload began: want at least the injected delay", up.Accepted, up.Accepted.Sub(start))
		}
	})

	t.Run("retried by azcore", func(t *testing.T) {
		e := newEnv(t, 0)
		e.in.Faults.Push(fault.Fault{Kind: fault.Status, Status: 503}, fault.Fault{Kind: fault.Status, Status: 500})
		c := e.client(t, e.cred, &policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond})
		if err := upload(t, c, ruleID, activity, rows, true); err != nil {
			t.Fatalf("Upload: %v", err)
		}
		if got, want := e.in.Requests(), 3; got != want {
			t.Errorf("Requests() = %d, want %d", got, want)
		}
	})
}

// TestWire checks what azlogs cannot be made to send.
func TestWire(t *testing.T) {
	e := newEnv(t, 0)
	tok, err := e.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://monitor.azure.com//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	path := "/dataCollectionRules/" + ruleID + "/streams/" + activity
	tests := []struct {
		name        string
		method      string
		target      string
		auth        string
		contentType string
		wantStatus  int
		wantCode    string
	}{
		{"ok", "POST", path + "?api-version=2023-01-01", "Bearer " + tok.Token, "application/json", 204, ""},
		{"charset", "POST", path + "?api-version=2023-01-01", "Bearer " + tok.Token, "application/json; charset=utf-8", 204, ""},
		{"no token", "POST", path + "?api-version=2023-01-01", "", "application/json", 401, ingestion.CodeUnauthorized},
		{"no api-version", "POST", path, "Bearer " + tok.Token, "application/json", 400, ingestion.CodeMissingVersion},
		{"unknown api-version", "POST", path + "?api-version=2020-01-01", "Bearer " + tok.Token, "application/json", 400, ingestion.CodeBadVersion},
		{"text body", "POST", path + "?api-version=2023-01-01", "Bearer " + tok.Token, "text/plain", 415, ingestion.CodeMediaType},
		{"GET", "GET", path + "?api-version=2023-01-01", "Bearer " + tok.Token, "application/json", 405, "MethodNotAllowed"},
		{"other path", "POST", "/dataCollectionRules/" + ruleID + "?api-version=2023-01-01", "Bearer " + tok.Token, "application/json", 404, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.target, strings.NewReader(`[{"TimeGenerated":"2026-05-01T10:00:00Z"}]`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantCode == "" {
				return
			}
			var got struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &got); err != nil || got.Error.Code != tt.wantCode || got.Error.Message == "" {
				t.Errorf("body %s, want error code %q with a message", body, tt.wantCode)
			}
			if h := resp.Header.Get("x-ms-error-code"); h != tt.wantCode {
				t.Errorf("x-ms-error-code = %q, want %q", h, tt.wantCode)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := ingestion.New(ingestion.Options{RuleID: "not-a-dcr"}); err == nil {
		t.Error("New accepted a rule id without the dcr- prefix")
	}
	in, err := ingestion.New(ingestion.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if in.RuleID() != ingestion.DefaultRuleID || in.File(activity) != "" {
		t.Errorf("RuleID() = %q, File() = %q", in.RuleID(), in.File(activity))
	}
}

// TestKeep: with Options.Keep the server holds what Keep returns of each
// accepted row, while the file under Dir still gets whole rows.
func TestKeep(t *testing.T) {
	dir := t.TempDir()
	in, err := ingestion.New(ingestion.Options{RuleID: ruleID, Dir: dir, Keep: func(stream string, row json.RawMessage) json.RawMessage {
		if stream != activity {
			return row
		}
		var r struct{ ActivityId string }
		if err := json.Unmarshal(row, &r); err != nil {
			t.Errorf("Keep got %s: %v", row, err)
		}
		b, _ := json.Marshal(r)
		return b
	}})
	if err != nil {
		t.Fatal(err)
	}
	body := `[{"TimeGenerated":"2026-05-01T00:00:00Z","ActivityId":"a1","ActionType":"Log on"},{"TimeGenerated":"2026-05-01T00:00:01Z","ActivityId":"a2","ActionType":"Log off"}]`
	req := httptest.NewRequest(http.MethodPost, "/dataCollectionRules/"+ruleID+"/streams/"+activity+"?api-version=2023-01-01", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("upload answered %d: %s", rec.Code, rec.Body)
	}
	var kept []string
	for _, r := range in.Rows(activity) {
		kept = append(kept, string(r))
	}
	if diff := cmp.Diff([]string{`{"ActivityId":"a1"}`, `{"ActivityId":"a2"}`}, kept); diff != "" {
		t.Errorf("rows kept (-want +got):\n%s", diff)
	}
	file, err := os.ReadFile(in.File(activity))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"ActionType":"Log off"`) {
		t.Errorf("the file lost whole rows:\n%s", file)
	}
}

// TestSettle: Settle waits while an upload's body is still arriving, and
// returns only once the server has been quiet for the time asked.
func TestSettle(t *testing.T) {
	in, err := ingestion.New(ingestion.Options{RuleID: ruleID})
	if err != nil {
		t.Fatal(err)
	}
	body, send := io.Pipe()
	req := httptest.NewRequest(http.MethodPost, "/dataCollectionRules/"+ruleID+"/streams/"+activity+"?api-version=2023-01-01", body)
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.ServeHTTP(rec, req)
	}()
	// The handler is blocked reading the body.
	if _, err := send.Write([]byte(`[{"TimeGenerated":"2026-05-01T00:00:00Z",`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := in.Settle(ctx, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Settle with a body half sent = %v, want the context's deadline", err)
	}
	if len(in.Uploads()) != 0 {
		t.Errorf("an upload was recorded before its body arrived")
	}
	_, _ = send.Write([]byte(`"ActivityId":"a1"}]`))
	_ = send.Close()
	<-done
	if rec.Code != http.StatusNoContent {
		t.Fatalf("upload answered %d: %s", rec.Code, rec.Body)
	}
	start := time.Now()
	if err := in.Settle(t.Context(), 200*time.Millisecond); err != nil {
		t.Fatalf("Settle after the answer: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Settle returned %s after the last request ended, want at least the quiet time asked", d)
	}
	if ups := len(in.Uploads()); ups != 1 {
		t.Errorf("after Settle: %d uploads, want 1", ups)
	}
}
