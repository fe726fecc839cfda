package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

func TestCursorAdvance(t *testing.T) {
	type step struct {
		id      string
		created int64
		wantDup bool
		wantErr bool
	}
	tests := []struct {
		name       string
		start      checkpoint.Cursor
		steps      []step
		want       checkpoint.Cursor
		wantMissed int
	}{
		{
			name:  "ties then a later millisecond",
			start: checkpoint.Cursor{CreatedMs: 10},
			steps: []step{{id: "a", created: 10}, {id: "b", created: 10}, {id: "c", created: 12}, {id: "d", created: 12}},
			want:  checkpoint.Cursor{CreatedMs: 12, Skip: 2, Seen: []string{"c", "d"}},
		},
		{
			// b past the skip means the API reordered the millisecond: the
			// cursor saves no more positions than it holds ids for, and
			// counts one activity as maybe passed over.
			name:       "resume inside a tie: skip counts on, seen ids are duplicates",
			start:      checkpoint.Cursor{CreatedMs: 10, Skip: 2, Seen: []string{"a", "b"}},
			steps:      []step{{id: "b", created: 10, wantDup: true}, {id: "c", created: 10}},
			want:       checkpoint.Cursor{CreatedMs: 10, Skip: 3, Seen: []string{"a", "b", "c"}},
			wantMissed: 1,
		},
		{
			name:  "resume inside a tie of more than the checkpoint keeps: skip counts on",
			start: checkpoint.Cursor{CreatedMs: 10, Skip: 3, Seen: []string{"b", "c"}},
			steps: []step{{id: "d", created: 10}},
			want:  checkpoint.Cursor{CreatedMs: 10, Skip: 4, Seen: []string{"b", "c", "d"}},
		},
		{
			name:  "an activity before the cursor is an error",
			start: checkpoint.Cursor{CreatedMs: 10, Skip: 1, Seen: []string{"a"}},
			steps: []step{{id: "z", created: 9, wantErr: true}},
			want:  checkpoint.Cursor{CreatedMs: 10, Skip: 1, Seen: []string{"a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCursor(tt.start)
			for _, s := range tt.steps {
				dup, err := c.advance(s.id, s.created)
				if dup != s.wantDup || (err != nil) != s.wantErr {
					t.Errorf("advance(%s, %d) = %v, %v; want dup %v, error %v", s.id, s.created, dup, err, s.wantDup, s.wantErr)
				}
			}
			if diff := cmp.Diff(tt.want, c.snapshot()); diff != "" {
				t.Errorf("cursor (-want +got):\n%s", diff)
			}
			if got := c.missed(); got != tt.wantMissed {
				t.Errorf("missed() = %d, want %d", got, tt.wantMissed)
			}
		})
	}
}

func TestSnapshotIsNotChangedByLaterAdvances(t *testing.T) {
	c := newCursor(checkpoint.Cursor{CreatedMs: 1})
	_, _ = c.advance("a", 5)
	snap := c.snapshot()
	_, _ = c.advance("b", 5)
	_, _ = c.advance("c", 6)
	if diff := cmp.Diff(checkpoint.Cursor{CreatedMs: 5, Skip: 1, Seen: []string{"a"}}, snap); diff != "" {
		t.Errorf("snapshot changed (-want +got):\n%s", diff)
	}
}

func TestIntervalKeepsUnderTheLimit(t *testing.T) {
	for _, rpm := range []int{1, 30, 600, 10000} {
		iv := Interval(rpm)
		// rpm calls spaced by iv span (rpm-1)*iv; the next one must fall
		// beyond the minute for no window to hold rpm+1.
		if span := time.Duration(rpm) * iv; span <= time.Minute {
			t.Errorf("Interval(%d) = %s: %d calls fit in %s", rpm, iv, rpm+1, span)
		}
		if iv > time.Minute*102/time.Duration(100*rpm) {
			t.Errorf("Interval(%d) = %s wastes more than 2%% of the budget", rpm, iv)
		}
	}
}

// uploader fails its first fails calls, accepting nothing, then accepts all.
type uploader struct {
	fails int
	got   [][]map[string]any
}

func (u *uploader) Upload(_ context.Context, _ string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	if u.fails > 0 {
		u.fails--
		return sentinel.UploadStats{}, errors.New("503 service unavailable")
	}
	var rows []map[string]any
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		return sentinel.UploadStats{}, err
	}
	u.got = append(u.got, rows)
	return sentinel.UploadStats{Rows: b.Len(), Requests: 1}, nil
}

func TestHealthRowsThatFailedAreSentWithTheNextOne(t *testing.T) {
	rows, err := sentinel.NewHealthRowBuilder(schema.Health())
	if err != nil {
		t.Fatal(err)
	}
	up := &uploader{fails: 2}
	h := &HealthReporter{Rows: rows, Uploader: up, Stream: schema.Health().Stream, APIHost: "t.example", Version: "test"}
	ctx := context.Background()
	redact := func(s string) string { return strings.ReplaceAll(s, "tok", "[REDACTED]") }
	res := Result{Start: time.Now(), Forwarded: 5, Checkpoint: checkpoint.Cursor{CreatedMs: time.Now().Add(-time.Minute).UnixMilli()}}
	runErr := &Error{Class: ClassAPIAuth, Err: errors.New("401 with tok")}
	if err := h.Report(ctx, "inv-1", res, runErr, redact); err == nil {
		t.Fatal("Report with a failing upload = nil error")
	}
	if err := h.Report(ctx, "inv-2", res, nil, redact); err == nil {
		t.Fatal("second Report with a failing upload = nil error")
	}
	if err := h.Report(ctx, "inv-3", Result{Start: time.Now(), MoreToDo: true}, nil, redact); err != nil {
		t.Fatalf("Report = %v", err)
	}
	if len(up.got) != 1 || len(up.got[0]) != 3 {
		t.Fatalf("uploads %v, want one upload of the 3 rows", up.got)
	}
	var ids, outcomes []string
	for _, r := range up.got[0] {
		ids = append(ids, r["InvocationId"].(string))
		outcomes = append(outcomes, r["Outcome"].(string))
	}
	if diff := cmp.Diff([]string{"inv-1", "inv-2", "inv-3"}, ids); diff != "" {
		t.Errorf("invocation ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"failure", "success", "partial"}, outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	first := up.got[0][0]
	if first["ErrorClass"] != ClassAPIAuth || strings.Contains(first["ErrorMessage"].(string), "tok") {
		t.Errorf("failure row = %v, want class %s and a redacted message", first, ClassAPIAuth)
	}
	if lag, ok := first["LagSeconds"].(float64); !ok || lag < 59 {
		t.Errorf("LagSeconds = %v, want about 60", first["LagSeconds"])
	}
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("boom"), ClassInternal},
		{&Error{Class: ClassToken, Err: errors.New("x")}, ClassToken},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("ClassOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	apiTests := []struct {
		err  error
		want string
	}{
		{&mcas.APIError{StatusCode: http.StatusUnauthorized}, ClassAPIAuth},
		{&mcas.APIError{StatusCode: http.StatusForbidden}, ClassAPIAuth},
		{&mcas.APIError{StatusCode: http.StatusBadRequest}, ClassAPIBadRequest},
		{&mcas.APIError{StatusCode: http.StatusBadGateway}, ClassAPIUnavailable},
		{&mcas.BadResponseError{Reason: "html"}, ClassAPIBadResponse},
		{&mcas.TokenError{Err: errors.New("kv down")}, ClassToken},
		{&mcas.TransportError{Err: errors.New("reset")}, ClassAPIUnavailable},
		{fmt.Errorf("renew the lease before calling the API: %w", checkpoint.ErrLeaseLost), ClassLeaseLost},
	}
	for _, tt := range apiTests {
		if got := classifyAPI(tt.err); got != tt.want {
			t.Errorf("classifyAPI(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	for status, want := range map[int]string{400: ClassIngestionRejected, 403: ClassIngestionRejected, 429: ClassIngestionUnavailable, 503: ClassIngestionUnavailable} {
		if got := classifyUpload(&azcore.ResponseError{StatusCode: status}); got != want {
			t.Errorf("classifyUpload(%d) = %q, want %q", status, got, want)
		}
	}
	if got := classifySave(errors.Join(errors.New("save"), checkpoint.ErrLeaseLost)); got != ClassLeaseLost {
		t.Errorf("classifySave(lease lost) = %q", got)
	}
}

// leaseStore answers Acquire with err or, when block is set, waits for ctx
// to end first, as a store call in flight when the worker is told to stop.
type leaseStore struct {
	block bool
	err   error
}

func (s leaseStore) Acquire(ctx context.Context, _ string, _ time.Time, _ time.Duration, _ checkpoint.State) (*checkpoint.Lease, error) {
	if s.block {
		<-ctx.Done()
		return nil, fmt.Errorf("get the checkpoint entity: %w", ctx.Err())
	}
	return nil, s.err
}

// A run that never gets the lease does nothing, and says why: skipped when
// another holds it, "more to do" when told to stop while asking for it, a
// checkpoint failure when the store fails.
func TestRunWithoutTheLease(t *testing.T) {
	until := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		store     leaseStore
		wantClass string
		want      string // in the summary
	}{
		{"held by another", leaseStore{err: &checkpoint.BusyError{Holder: "other", Until: until}}, "", "skipped: another invocation holds the lease until 2026-12-03T10:00:00Z"},
		{"told to stop while taking it", leaseStore{block: true}, "", "checkpoint not read (the lease was not taken); more to do: yes (told to stop early"},
		{"store unavailable", leaseStore{err: errors.New("dial tcp: connection refused")}, ClassCheckpoint, "checkpoint not read (the lease was not taken); more to do: yes (the run failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.store.block {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			r := New(Settings{RequestsPerMinute: 30, RunBudget: time.Minute}, Deps{Store: tt.store})
			res, err := r.Run(ctx, slog.New(slog.DiscardHandler))
			if got := ClassOf(err); got != tt.wantClass {
				t.Errorf("error %v: class %q, want %q", err, got, tt.wantClass)
			}
			if s := res.Summary(); !strings.Contains(s, tt.want) {
				t.Errorf("summary %q, want it to contain %q", s, tt.want)
			}
			if res.Forwarded != 0 || res.APICalls != 0 {
				t.Errorf("forwarded %d in %d calls without the lease", res.Forwarded, res.APICalls)
			}
		})
	}
}
