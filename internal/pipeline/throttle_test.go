package pipeline

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Promise 4: on a throttled answer the connector waits as long as
// Retry-After says. A run whose budget ends before that wait does leaves
// it to the next run, which must not call the API before it is over: it
// takes the lease over with the time the last holder may have released.
func TestRetryAfterOutlivesTheRunThatGotIt(t *testing.T) {
	const retryAfter = 4 * time.Second
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		first := len(arrivals) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"total":0,"hasNext":false,"data":[]}`))
	}))
	defer srv.Close()

	store := newStore(t)
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		t.Fatal(err)
	}
	limiter := NewLimiter(600)
	runner := func(budget time.Duration) *Runner {
		set := Settings{InitialLookback: time.Hour, SettleDelay: time.Second, RunBudget: budget, RequestsPerMinute: 600, Stream: "Custom-X"}
		return New(set, Deps{Store: store, Rows: rows, Uploader: &uploader{}, Limiter: limiter,
			Source: func(p mcas.Pacer) ActivitySource {
				c, err := mcas.NewClient(srv.URL+"/api/v1/activities/", fixedToken{}, p, mcas.Options{HTTPClient: srv.Client()})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}})
	}
	log := slog.New(slog.DiscardHandler)
	// The first run's budget ends before Retry-After does: it stops at once.
	res, err := runner(2*time.Second).Run(context.Background(), log)
	if err != nil || !res.MoreToDo || res.Throttled != 1 {
		t.Fatalf("first run: %+v, %v; want it throttled once and stopped with more to do", res, err)
	}
	if _, err := runner(time.Minute).Run(context.Background(), log); err != nil {
		t.Fatalf("second run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) < 2 {
		t.Fatalf("%d calls, want the throttled one and the next run's", len(arrivals))
	}
	if gap := arrivals[1].Sub(arrivals[0]); gap < retryAfter {
		t.Errorf("the next call came %s after the 429 that asked for %s (Retry-After)", gap.Round(time.Millisecond), retryAfter)
	}
}
