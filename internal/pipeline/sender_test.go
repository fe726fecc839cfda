package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// countingUploader accepts every batch and remembers how many rows each had.
type countingUploader struct {
	mu   sync.Mutex
	rows []int
}

func (u *countingUploader) Upload(_ context.Context, _ string, b *sentinel.Batch) (sentinel.UploadStats, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rows = append(u.rows, b.Len())
	return sentinel.UploadStats{Rows: b.Len(), Requests: 1}, nil
}

// Promise 4: past its deadline a run finishes one upload at most, and the
// checkpoint stays at the last row that upload carried.
func TestSenderFinishesOneUploadPastTheDeadline(t *testing.T) {
	// Rows of ~100 KB: ten fill a batch.
	row := []byte(`{"x":"` + strings.Repeat("a", 100_000) + `"}`)
	const perBatch = 10
	tests := []struct {
		name      string
		deadline  time.Duration // from now
		cancelled bool          // the run's context ended (the worker is shutting down)
		rows      int
		wantRows  []int // rows of each upload
		wantAdd   error // the first error add returned
		wantFlush error
		wantSaved int // the position saved last (rows accepted), -1 for none
	}{
		{"within the budget, everything", time.Hour, false, 25, []int{perBatch, perBatch, 5}, nil, nil, 25},
		// Already out of budget: the first full batch may go (no upload ran
		// past the deadline), the next one may not, nor may the rest.
		{"out of budget with batches", -time.Second, false, 25, []int{perBatch}, errStopped, errStopped, perBatch},
		// A budget too short to fill one batch still moves the checkpoint on.
		{"out of budget with less than a batch", -time.Second, false, 5, []int{5}, nil, nil, 5},
		// Told to stop with the budget far off: the same as out of budget.
		{"told to stop", time.Hour, true, 25, []int{perBatch}, errStopped, errStopped, perBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &countingUploader{}
			saved := -1
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			s := newSender(context.Background(), newStopSignal(ctx, time.Now().Add(tt.deadline)), up, "Custom-Test", &Result{}, func(p int) error {
				saved = p
				return nil
			})
			var addErr error
			for i := range tt.rows {
				if err := s.add(fmt.Sprint(i), row, i+1); err != nil {
					addErr = err
					break
				}
			}
			flushErr := s.flush()
			if err := s.wait(); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(addErr, tt.wantAdd) || !errors.Is(flushErr, tt.wantFlush) {
				t.Errorf("add: %v, flush: %v; want %v, %v", addErr, flushErr, tt.wantAdd, tt.wantFlush)
			}
			if diff := cmp.Diff(tt.wantRows, up.rows); diff != "" {
				t.Errorf("uploads' rows (-want +got):\n%s", diff)
			}
			if saved != tt.wantSaved {
				t.Errorf("checkpoint saved at row %d, want %d", saved, tt.wantSaved)
			}
		})
	}
}

// A save after an accepted upload is tried again while it may still land
// (the table busy), but not when it was refused for what it holds, nor when
// the lease is lost: those fail the run at once.
func TestSaveAcceptedTriesAgainOnlyWhatCanLand(t *testing.T) {
	busy := errors.New("503 server busy")
	refused := fmt.Errorf("checkpoint %q: save: %w", "t", checkpoint.ErrRefused)
	lost := fmt.Errorf("checkpoint %q: save: %w", "t", checkpoint.ErrLeaseLost)
	tests := []struct {
		name      string
		errs      []error // what each save returns, then nil
		wantSaves int
		wantErr   error
	}{
		{"saved at once", nil, 1, nil},
		{"busy once, then saved", []error{busy}, 2, nil},
		{"refused", []error{refused}, 1, checkpoint.ErrRefused},
		{"lease lost", []error{lost}, 1, checkpoint.ErrLeaseLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saves := 0
			s := newSender(context.Background(), newStopSignal(context.Background(), time.Now().Add(time.Hour)), &countingUploader{}, "Custom-Test", &Result{}, func(int) error {
				saves++
				if saves <= len(tt.errs) {
					return tt.errs[saves-1]
				}
				return nil
			})
			err := s.saveAccepted(1)
			if saves != tt.wantSaves || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("%d saves, error %v; want %d, %v", saves, err, tt.wantSaves, tt.wantErr)
			}
		})
	}
}
