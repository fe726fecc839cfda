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
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// busyWrites passes requests to Azurite but, once armed, answers the next
// failures PUTs (lease writes) 503 ServerBusy without carrying them out, as
// the Table service does in a burst of load.
type busyWrites struct {
	armed    atomic.Bool
	failures atomic.Int32
}

func (b *busyWrites) Do(req *http.Request) (*http.Response, error) {
	req, err := ownBody(req)
	if err != nil {
		return nil, err
	}
	if req.Method == http.MethodPut && b.armed.Load() && b.failures.Add(-1) >= 0 {
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Status:     "503 Server Busy",
			Header:     http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {"ServerBusy"}},
			Body:       io.NopCloser(bytes.NewReader([]byte(`{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"The server is busy."}}}`))),
			Request:    req,
		}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// windowSource answers list calls from acts (created ascending, no ties):
// those created at or after the query's start, less the first Skip.
type windowSource struct{ acts []json.RawMessage }

func (s windowSource) Activities(_ context.Context, q mcas.Query) (mcas.Page, error) {
	var out []json.RawMessage
	for _, raw := range s.acts {
		var a struct {
			Created int64 `json:"created"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return mcas.Page{}, err
		}
		if a.Created >= q.CreatedFrom && a.Created <= q.CreatedTo {
			out = append(out, raw)
		}
	}
	return mcas.Page{Data: out[min(q.Skip, len(out)):]}, nil
}
func (s windowSource) Scan(context.Context, json.RawMessage, int) (mcas.ScanPage, error) {
	return mcas.ScanPage{}, nil
}
func (s windowSource) Stats() mcas.Stats { return mcas.Stats{} }

// armOnUpload accepts every batch and arms the Table failures for the save
// that follows it.
type armOnUpload struct {
	uploader
	busy *busyWrites
}

func (u *armOnUpload) Upload(ctx context.Context, stream string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	u.busy.armed.Store(true)
	return u.uploader.Upload(ctx, stream, b)
}

// Promise 2: an accepted upload is sent once. Its checkpoint save, which the
// Table service refuses for a few seconds more than the SDK's own retries
// last, is tried again: given up on, the run fails and the next one sends
// the accepted rows a second time, though no process was killed.
func TestAcceptedUploadIsSavedThroughABusyTable(t *testing.T) {
	busy := &busyWrites{}
	busy.failures.Store(6) // the SDK's four tries of one save, and then some
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: busy,
		Retry:     policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond},
	}}
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
	src := windowSource{acts: sampleActivities(t, 5, func(i int) int64 { return base + int64(i) })}
	up := &armOnUpload{busy: busy}
	set := Settings{InitialLookback: 2 * time.Hour, SettleDelay: time.Second, RunBudget: time.Minute, RequestsPerMinute: 600, Stream: "Custom-X"}
	r := New(set, Deps{Store: store, Rows: rows, Uploader: up, Limiter: NewLimiter(600),
		Source: func(mcas.Pacer) ActivitySource { return src }})
	log := slog.New(slog.DiscardHandler)
	for run := 1; run <= 2; run++ {
		res, err := r.Run(context.Background(), log)
		t.Logf("run %d: %s (error: %v)", run, res.Summary(), err)
		if err != nil {
			time.Sleep(leaseTTL) // a failed run's release may have failed too
		}
	}
	sent := map[string]int{}
	for _, batch := range up.got {
		for _, row := range batch {
			sent[row["ActivityId"].(string)]++
		}
	}
	if len(sent) != 5 {
		t.Errorf("%d activities sent, want 5", len(sent))
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("activity %s sent %d times", id, n)
		}
	}
}
