package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
)

// loseAnswer passes requests to Azurite but, once armed, drops the answer to
// the next request with the given method after the service has carried it
// out, as a connection reset would. The client's retry policy then resends it.
type loseAnswer struct {
	method string
	armed  atomic.Bool
}

func (l *loseAnswer) Do(req *http.Request) (*http.Response, error) {
	// net/http may still be reading a request's body after RoundTrip
	// returns; the retry that follows the injected error rewinds the SDK's
	// body, so the transport gets a copy of its own (a data race under
	// -race otherwise).
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == l.method && l.armed.CompareAndSwap(true, false) {
		_ = resp.Body.Close()
		return nil, errors.New("connection reset (injected after the service answered)")
	}
	return resp, err
}

var _ policy.Transporter = (*loseAnswer)(nil)

func TestWriteWhoseAnswerWasLostIsRecognised(t *testing.T) {
	tests := []struct {
		name   string
		method string // of the write whose answer is lost
		prior  bool   // an entity exists before Acquire
		after  func(ctx context.Context, l *checkpoint.Lease) error
	}{
		{name: "create", method: http.MethodPost},
		{name: "takeover", method: http.MethodPut, prior: true},
		{name: "save", method: http.MethodPut, after: func(ctx context.Context, l *checkpoint.Lease) error {
			return l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 7, Skip: 1, Seen: []string{"x"}}}, t0)
		}},
		{name: "release", method: http.MethodPut, after: func(ctx context.Context, l *checkpoint.Lease) error {
			return l.Release(ctx, t0.Add(time.Minute))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tr := &loseAnswer{method: tt.method}
			opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{
				Transport: tr,
				Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond},
			}}
			c, err := checkpoint.NewClientFromConnectionString(azuritetest.Shared(t).ConnectionString(), azuritetest.UniqueTable(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTable(ctx, nil); err != nil {
				t.Fatal(err)
			}
			s, err := checkpoint.NewStore(c, "tenant")
			if err != nil {
				t.Fatal(err)
			}
			if tt.prior {
				if err := acquire(t, s, "old", t0).Release(ctx, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.after == nil {
				tr.armed.Store(true)
			}
			l, err := s.Acquire(ctx, "a", t0, ttl, checkpoint.State{})
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			if tt.after != nil {
				tr.armed.Store(true)
				if err := tt.after(ctx, l); err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
			}
			if tr.armed.Load() {
				t.Fatal("test setup: no answer was dropped")
			}
			// The lease works on: the next write is conditional on the etag we adopted.
			if err := l.Renew(ctx, t0.Add(time.Second)); tt.name != "release" && err != nil {
				t.Errorf("Renew after the recognised write: %v", err)
			}
			if tt.name == "release" {
				b := acquire(t, s, "b", t0.Add(time.Second))
				if !b.NotBefore().Equal(t0.Add(time.Minute)) {
					t.Errorf("after the recognised release: NotBefore() = %v", b.NotBefore())
				}
			}
			if tt.name == "save" {
				if err := l.Release(ctx, time.Time{}); err != nil {
					t.Fatal(err)
				}
				want := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 7, Skip: 1, Seen: []string{"x"}}}
				if diff := cmp.Diff(want, acquire(t, s, "b", t0).State()); diff != "" {
					t.Errorf("State() (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestWriteThatFailedButLandedIsNotUndone covers a write whose answer was
// lost with no retry left: the caller got an error, but the entity holds the
// write. The next write must build on it, never on the state before it (a
// Renew on the old state would move the cursor back past an accepted upload).
func TestWriteThatFailedButLandedIsNotUndone(t *testing.T) {
	ctx := context.Background()
	tr := &loseAnswer{method: http.MethodPut}
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}}}
	c, err := checkpoint.NewClientFromConnectionString(azuritetest.Shared(t).ConnectionString(), azuritetest.UniqueTable(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := checkpoint.NewStore(c, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	l := acquire(t, s, "a", t0)
	saved := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 42, Skip: 1, Seen: []string{"x"}}}

	tr.armed.Store(true)
	if err := l.Save(ctx, saved, t0.Add(time.Second)); err == nil || errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("Save whose answer was lost: err = %v, want a plain error", err)
	}
	if err := l.Renew(ctx, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("Renew after it: %v", err)
	}
	if want := t0.Add(2*time.Second + ttl); !l.Expires().Equal(want) {
		t.Errorf("Expires() = %v, want %v", l.Expires(), want)
	}
	// Even the cursor check knows the save landed.
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 41}}, t0.Add(2*time.Second)); err == nil {
		t.Error("Save behind the landed save: err = nil")
	}

	tr.armed.Store(true)
	if err := l.Release(ctx, t0.Add(time.Minute)); err == nil {
		t.Fatal("Release whose answer was lost: err = nil")
	}
	if err := l.Release(ctx, t0.Add(time.Minute)); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if err := l.Renew(ctx, t0.Add(3*time.Second)); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("Renew after Release: err = %v, want ErrLeaseLost", err)
	}
	b := acquire(t, s, "b", t0.Add(3*time.Second))
	if diff := cmp.Diff(saved, b.State()); diff != "" {
		t.Errorf("State() (-want +got):\n%s", diff)
	}
	if !b.NotBefore().Equal(t0.Add(time.Minute)) {
		t.Errorf("NotBefore() = %v, want %v", b.NotBefore(), t0.Add(time.Minute))
	}
}
