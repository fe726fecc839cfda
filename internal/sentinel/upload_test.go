package sentinel

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/ingestion/azlogs"
	"github.com/google/go-cmp/cmp"
)

const (
	testRule   = "dcr-00000000000000000000000000000000"
	testStream = "Custom-MCAS_Activity_Log_CL"
)

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// ingestion speaks the Logs Ingestion API's wire format for one rule and
// stream: a gzipped JSON array is accepted with 204, or refused with 413 when
// it decompresses to more than limit bytes. answers, when set, are given
// first, one per attempt.
type ingestion struct {
	t       *testing.T
	limit   int
	arrived chan struct{} // when set, told of each attempt, which then waits for release
	release chan struct{}

	mu         sync.Mutex
	answers    []int
	retryAfter string // the Retry-After header of those answers, when set
	attempts   int
	accepted   []string // the arrays accepted, in order
}

func (s *ingestion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(format string, args ...any) {
		s.t.Errorf("ingestion: "+format, args...)
		http.Error(w, `{"error":{"code":"BadRequest"}}`, http.StatusBadRequest)
	}
	switch {
	case r.Method != http.MethodPost:
		fail("method %s", r.Method)
		return
	case r.URL.Path != "/dataCollectionRules/"+testRule+"/streams/"+testStream:
		fail("path %s", r.URL.Path)
		return
	case r.URL.RawQuery != "api-version=2023-01-01":
		fail("query %s", r.URL.RawQuery)
		return
	case r.Header.Get("Authorization") != "Bearer fake-token":
		fail("authorization %q", r.Header.Get("Authorization"))
		return
	case r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json":
		fail("content encoding %q, type %q", r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"))
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		fail("body: %v", err)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		fail("body: %v", err)
		return
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		fail("body is not a JSON array: %v", err)
		return
	}

	if s.arrived != nil {
		s.arrived <- struct{}{}
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if len(s.answers) > 0 {
		code := s.answers[0]
		s.answers = s.answers[1:]
		w.Header().Set("Content-Type", "application/json")
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":"Status%d","message":"test answer"}}`, code)
		return
	}
	if s.limit > 0 && len(body) > s.limit {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		fmt.Fprintf(w, `{"error":{"code":"ContentLengthLimitExceeded","message":"%d bytes over %d"}}`, len(body), s.limit)
		return
	}
	s.accepted = append(s.accepted, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func (s *ingestion) result() (attempts int, accepted []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, s.accepted
}

// newUploader starts srv and returns the real azlogs client wired to it.
// maxRetries < 0 turns azcore's retries off.
func newUploader(t *testing.T, s *ingestion, maxRetries int32) *Uploader {
	t.Helper()
	s.t = t
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	opts := ClientOptions()
	opts.Transport = srv.Client()
	opts.Retry.MaxRetries = maxRetries
	opts.Retry.RetryDelay = time.Millisecond
	opts.Retry.MaxRetryDelay = 5 * time.Millisecond
	c, err := azlogs.NewClient(srv.URL, fakeCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return NewUploader(c, testRule)
}

// activityBatch returns a batch of n activity rows built from sample_1.
func activityBatch(t testing.TB, n int) (*Batch, []string) {
	t.Helper()
	b := activityBuilder(t)
	sample := string(readSample(t))
	batch := NewBatch()
	var rows []string
	for i := range n {
		raw := strings.Replace(sample, "97ee2049-893e-4c9d-a312-08d82b46faf7", fmt.Sprintf("%036d", i), 1)
		row, _, err := b.AppendActivityRow(nil, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := batch.Append(row); !ok || err != nil {
			t.Fatalf("row %d: %t, %v", i, ok, err)
		}
		rows = append(rows, string(row))
	}
	return batch, rows
}

// rowsOf splits accepted arrays back into rows.
func rowsOf(t *testing.T, arrays []string) []string {
	t.Helper()
	var out []string
	for _, a := range arrays {
		var rows []json.RawMessage
		if err := json.Unmarshal([]byte(a), &rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, string(r))
		}
	}
	return out
}

func TestClientOptions(t *testing.T) {
	o := ClientOptions()
	if o.Retry.TryTimeout < 60*time.Second {
		t.Errorf("TryTimeout = %v, want at least 60s (uploads never time out in under 30s)", o.Retry.TryTimeout)
	}
	if o.Retry.MaxRetries < 0 || o.Retry.StatusCodes != nil || o.Retry.ShouldRetry != nil {
		t.Errorf("retry policy changed from azcore's defaults: %+v", o.Retry)
	}
}

func TestUploadSendsTheRowsGzipped(t *testing.T) {
	srv := &ingestion{}
	u := newUploader(t, srv, -1)
	b, _ := activityBatch(t, 50)
	want := string(b.Bytes())
	st, err := u.Upload(context.Background(), testStream, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(UploadStats{Rows: 50, Requests: 1}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	attempts, accepted := srv.result()
	if attempts != 1 || len(accepted) != 1 || accepted[0] != want {
		t.Errorf("server: %d attempts, %d bodies; want the batch's exact bytes once", attempts, len(accepted))
	}
}

func TestUploadEmptyBatchSendsNothing(t *testing.T) {
	srv := &ingestion{}
	st, err := newUploader(t, srv, -1).Upload(context.Background(), testStream, NewBatch())
	if attempts, _ := srv.result(); err != nil || st != (UploadStats{}) || attempts != 0 {
		t.Errorf("got %+v, %v, %d attempts; want nothing sent", st, err, attempts)
	}
}

func TestUpload413SplitsInHalves(t *testing.T) {
	tests := []struct {
		name         string
		rows         int
		limitPercent int // of the batch size
		wantRequests int
		wantAttempts int
	}{
		{"one split", 40, 60, 2, 3},
		{"two levels", 40, 30, 4, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, rows := activityBatch(t, tt.rows)
			srv := &ingestion{limit: b.Size() * tt.limitPercent / 100}
			st, err := newUploader(t, srv, -1).Upload(context.Background(), testStream, b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(UploadStats{Rows: tt.rows, Requests: tt.wantRequests}, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			attempts, accepted := srv.result()
			if attempts != tt.wantAttempts {
				t.Errorf("%d attempts at the server, want %d", attempts, tt.wantAttempts)
			}
			if diff := cmp.Diff(rows, rowsOf(t, accepted)); diff != "" {
				t.Errorf("rows accepted, in order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpload413OnOneRowFails(t *testing.T) {
	b := NewBatch()
	rows := [][]byte{rowOfSize(t, 0, 100), rowOfSize(t, 1, 1000), rowOfSize(t, 2, 100)}
	for _, r := range rows {
		b.Append(r)
	}
	srv := &ingestion{limit: 500}
	st, err := newUploader(t, srv, -1).Upload(context.Background(), testStream, b)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("error %v, want a 413 *azcore.ResponseError", err)
	}
	if !Rejected(err) {
		t.Error("Rejected(413) = false")
	}
	// [0 1 2] refused, [0] accepted, [1 2] refused, [1] refused: row 2 is never sent.
	if diff := cmp.Diff(UploadStats{Rows: 1, Requests: 1}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	attempts, accepted := srv.result()
	if attempts != 4 {
		t.Errorf("%d attempts, want 4", attempts)
	}
	if diff := cmp.Diff([]string{arrayOf(rows[0])}, accepted); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
}

func TestUploadRefusedSendsNothingMore(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusForbidden} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := &ingestion{answers: []int{code}}
			b, _ := activityBatch(t, 20)
			st, err := newUploader(t, srv, 3).Upload(context.Background(), testStream, b)
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != code {
				t.Fatalf("error %v, want a %d *azcore.ResponseError", err, code)
			}
			if !Rejected(err) {
				t.Errorf("Rejected(%d) = false", code)
			}
			if !strings.Contains(err.Error(), testStream) {
				t.Errorf("error %q does not name the stream", err)
			}
			attempts, accepted := srv.result()
			if st != (UploadStats{}) || attempts != 1 || len(accepted) != 0 {
				t.Errorf("stats %+v, %d attempts, %d accepted; want one attempt and nothing accepted", st, attempts, len(accepted))
			}
		})
	}
}

func TestUploadUnavailableIsRetriedByAzcore(t *testing.T) {
	tests := []struct {
		name         string
		answers      []int
		maxRetries   int32
		wantErr      int // status of the error, 0 for success
		wantAttempts int
	}{
		{"503 then accepted", []int{503, 503}, 3, 0, 3},
		{"429 then accepted", []int{429}, 3, 0, 2},
		{"503 until retries run out", []int{503, 503, 503, 503}, 2, 503, 3},
		{"500 until retries run out", []int{500, 500}, 1, 500, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &ingestion{answers: tt.answers}
			b, rows := activityBatch(t, 5)
			// One call of ours; the attempts are azcore's.
			st, err := newUploader(t, srv, tt.maxRetries).Upload(context.Background(), testStream, b)
			attempts, accepted := srv.result()
			if attempts != tt.wantAttempts {
				t.Errorf("%d attempts at the server, want %d", attempts, tt.wantAttempts)
			}
			if tt.wantErr == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(rows, rowsOf(t, accepted)); diff != "" || st.Rows != 5 || st.Requests != 1 {
					t.Errorf("stats %+v; rows accepted (-want +got):\n%s", st, diff)
				}
				return
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.wantErr {
				t.Fatalf("error %v, want a %d *azcore.ResponseError", err, tt.wantErr)
			}
			if Rejected(err) {
				t.Errorf("Rejected(%d) = true, want unavailable", tt.wantErr)
			}
			if st != (UploadStats{}) || len(accepted) != 0 {
				t.Errorf("stats %+v, %d accepted; want nothing", st, len(accepted))
			}
		})
	}
}

// A best-effort upload gives up within about 25 s whatever the service
// does, where the client's own policy may wait for minutes.
func TestUploadBestEffortGivesUpSooner(t *testing.T) {
	tests := []struct {
		name         string
		answers      []int
		retryAfter   string
		wantErr      int
		wantAttempts int // with ClientOptions' policy: all answers, then accepted
	}{
		{"unavailable: one retry", []int{503, 503, 503}, "", 503, 2},
		{"throttled for a minute: no wait", []int{429, 429}, "60", 429, 1},
		{"throttled briefly: waits and retries", []int{429}, "1", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &ingestion{answers: tt.answers, retryAfter: tt.retryAfter}
			b, rows := activityBatch(t, 2)
			st, err := newUploader(t, srv, 3).Upload(BestEffort(context.Background()), testStream, b)
			attempts, accepted := srv.result()
			if attempts != tt.wantAttempts {
				t.Errorf("%d attempts at the server, want %d", attempts, tt.wantAttempts)
			}
			if tt.wantErr == 0 {
				if err != nil || cmp.Diff(rows, rowsOf(t, accepted)) != "" {
					t.Errorf("got %v, accepted %d arrays; want the rows accepted", err, len(accepted))
				}
				return
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.wantErr || st != (UploadStats{}) {
				t.Errorf("got %+v, %v; want a %d *azcore.ResponseError and nothing accepted", st, err, tt.wantErr)
			}
		})
	}
	// The same answers without BestEffort are waited out: the override is
	// the upload's, not the client's.
	srv := &ingestion{answers: []int{503, 503, 503}}
	b, _ := activityBatch(t, 2)
	if _, err := newUploader(t, srv, 3).Upload(context.Background(), testStream, b); err != nil {
		t.Errorf("without BestEffort: %v, want accepted after azcore's retries", err)
	}
	if attempts, _ := srv.result(); attempts != 4 {
		t.Errorf("without BestEffort: %d attempts, want 4", attempts)
	}
}

// A best-effort try that hangs is given up on after BestEffortRetry's
// TryTimeout and tried again, although Upload detaches ctx. The first copy,
// accepted late, is the duplicate best effort allows.
func TestUploadBestEffortTryTimesOut(t *testing.T) {
	t.Parallel()
	srv := &ingestion{arrived: make(chan struct{}), release: make(chan struct{})}
	u := newUploader(t, srv, 3)
	b, _ := activityBatch(t, 2)
	go func() {
		<-srv.arrived // the first try, held
		<-srv.arrived // the retry, after the try timed out
		close(srv.release)
	}()
	start := time.Now()
	st, err := u.Upload(BestEffort(context.Background()), testStream, b)
	if err != nil || st.Rows != 2 {
		t.Fatalf("got %+v, %v; want the retry accepted", st, err)
	}
	if took := time.Since(start); took < BestEffortRetry.TryTimeout {
		t.Errorf("answered after %s, before the first try's timeout of %s", took, BestEffortRetry.TryTimeout)
	}
}

func TestUploadCancelledBeforeStartSendsNothing(t *testing.T) {
	srv := &ingestion{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, _ := activityBatch(t, 3)
	st, err := newUploader(t, srv, -1).Upload(ctx, testStream, b)
	if !errors.Is(err, context.Canceled) || st != (UploadStats{}) {
		t.Errorf("got %+v, %v; want context.Canceled and nothing accepted", st, err)
	}
	if attempts, _ := srv.result(); attempts != 0 {
		t.Errorf("%d attempts, want none", attempts)
	}
}

func TestUploadInFlightIsNotAbandoned(t *testing.T) {
	srv := &ingestion{arrived: make(chan struct{}), release: make(chan struct{})}
	u := newUploader(t, srv, -1)
	b, rows := activityBatch(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.arrived // the request is at the server
		cancel()
		time.Sleep(50 * time.Millisecond) // give a wrongly wired ctx time to abort
		close(srv.release)
	}()
	st, err := u.Upload(ctx, testStream, b)
	if err != nil {
		t.Fatalf("Upload gave up on a request in flight: %v", err)
	}
	_, accepted := srv.result()
	if diff := cmp.Diff(rows, rowsOf(t, accepted)); diff != "" || st.Rows != 3 {
		t.Errorf("stats %+v; accepted (-want +got):\n%s", st, diff)
	}
}

func TestRejected(t *testing.T) {
	for code, want := range map[int]bool{400: true, 401: true, 403: true, 404: true, 413: true, 408: false, 429: false, 500: false, 503: false} {
		err := fmt.Errorf("upload: %w", &azcore.ResponseError{StatusCode: code})
		if got := Rejected(err); got != want {
			t.Errorf("Rejected(%d) = %t, want %t", code, got, want)
		}
	}
	if Rejected(errors.New("dial tcp: connection refused")) {
		t.Error("Rejected(transport error) = true")
	}
}
