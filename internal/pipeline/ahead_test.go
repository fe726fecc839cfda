package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFetchAhead(t *testing.T) {
	t.Run("wait returns the answer", func(t *testing.T) {
		a := fetchAhead(t.Context(), "q1", func(_ context.Context, q string) (string, error) { return "page for " + q, nil })
		if p, err := a.wait(); p != "page for q1" || err != nil {
			t.Errorf("wait() = %q, %v", p, err)
		}
	})
	t.Run("abandon cancels the call and waits for it", func(t *testing.T) {
		returned := false
		a := fetchAhead(t.Context(), 0, func(ctx context.Context, _ int) (int, error) {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
			time.Sleep(20 * time.Millisecond) // abandon must wait for this
			returned = true
			return 0, ctx.Err()
		})
		start := time.Now()
		a.abandon()
		if !returned {
			t.Error("abandon returned before the call did")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("abandon took %s: the call was not cancelled", d)
		}
		if _, err := a.wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("the abandoned call's error = %v, want context.Canceled", err)
		}
	})
	t.Run("abandoning none is a no-op", func(t *testing.T) {
		var a *ahead[int, int]
		a.abandon()
	})
}
