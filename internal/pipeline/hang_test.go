package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// stallOnce passes requests to Azurite but, once armed, lets the next PUT
// (a lease write) hang until its request's context ends, as a request on a
// connection that a middlebox dropped silently, or a front end that took
// the request and stalled, does: no answer and no error.
type stallOnce struct {
	armed atomic.Bool
	hung  atomic.Int32
}

func (s *stallOnce) Do(req *http.Request) (*http.Response, error) {
	req, err := ownBody(req)
	if err != nil {
		return nil, err
	}
	if req.Method == http.MethodPut && s.armed.CompareAndSwap(true, false) {
		s.hung.Add(1)
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(req)
}

// armingUploader accepts every batch and arms the stall for the checkpoint
// save that follows the upload.
type armingUploader struct {
	uploader
	stall *stallOnce
}

func (u *armingUploader) Upload(ctx context.Context, stream string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	u.stall.armed.Store(true)
	return u.uploader.Upload(ctx, stream, b)
}

// Promise 4: a run returns within its budget plus the upload it waits on.
// A checkpoint write that never gets an answer must not hold the run (and,
// through the lease's lock, its heartbeat and its release) until the host
// kills the worker: the Table client gives up on a stalled try and retries
// it on a fresh connection.
func TestRunReturnsWhenACheckpointWriteStalls(t *testing.T) {
	stall := &stallOnce{}
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: stall}}
	client, err := checkpoint.NewClientFromConnectionString(azuritetest.Shared(t).ConnectionString(), azuritetest.UniqueTable(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.NewStore(client, "contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UnixMilli()
	acts := sampleActivities(t, 5, func(i int) int64 { return base + int64(i) })
	var calls int
	up := &armingUploader{stall: stall}
	const budget = 2 * time.Second
	set := Settings{InitialLookback: 2 * time.Hour, SettleDelay: time.Second, RunBudget: budget, RequestsPerMinute: 600, Stream: "Custom-X"}
	r := New(set, Deps{Store: store, Rows: rows, Uploader: up, Limiter: NewLimiter(600),
		Source: func(mcas.Pacer) ActivitySource {
			return pagesSource{pages: [][]json.RawMessage{acts}, calls: &calls}
		}})

	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		res, err := r.Run(context.Background(), slog.New(slog.DiscardHandler))
		done <- outcome{res, err}
	}()
	// The budget, plus one stalled try given up on (checkpoint.TryTimeout,
	// 10 s) and retried, with room to spare.
	limit := budget + 30*time.Second
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("run: %v", o.err)
		}
		if o.res.Forwarded != len(acts) {
			t.Errorf("forwarded %d, want %d", o.res.Forwarded, len(acts))
		}
		t.Logf("returned after %s with %d stalled write(s)", time.Since(start).Round(time.Millisecond), stall.hung.Load())
	case <-time.After(limit):
		t.Fatalf("the run has not returned %s after it started (budget %s): a checkpoint write that gets no answer holds it until the host kills the worker", limit, budget)
	}
	if stall.hung.Load() != 1 {
		t.Fatalf("test setup: %d writes stalled, want 1", stall.hung.Load())
	}
	l, err := store.Acquire(context.Background(), "after", time.Now().Add(leaseTTL), leaseTTL, checkpoint.State{})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.State().Cursor; c.CreatedMs != base+4 {
		t.Errorf("checkpoint at created %d, want %d (the last accepted row)", c.CreatedMs, base+4)
	}
}

// ownBody gives req a body of its own, read in full, for a transport that
// may send it after the SDK's pipeline has moved on (see checkpoint's
// loseAnswer).
func ownBody(req *http.Request) (*http.Request, error) {
	if req.Body == nil {
		return req, nil
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	return req, nil
}
