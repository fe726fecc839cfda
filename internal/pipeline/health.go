package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

// HealthReporter sends one health row per invocation to the health stream,
// so the SOC sees in Sentinel itself that the connector is alive, how far
// behind it is and why it failed.
type HealthReporter struct {
	Rows     *sentinel.HealthRowBuilder
	Uploader Uploader
	Stream   string
	APIHost  string
	Version  string

	mu      sync.Mutex
	pending []sentinel.Health // rows whose upload failed, sent with the next one
	batch   *sentinel.Batch   // reused: a batch holds a 1 MiB buffer
	buf     []byte
}

// maxPendingHealth bounds the rows kept while the health stream is failing.
const maxPendingHealth = 100

// Report builds the invocation's health row and uploads it. redact removes
// the token from the error text. The row never carries an activity. The
// upload is sentinel.BestEffort: an unavailable endpoint, which may already
// have held the run's last upload for minutes, holds the invocation at most
// about 25 s more, and the row waits for the next invocation.
func (h *HealthReporter) Report(ctx context.Context, invocationID string, res Result, runErr error, redact func(string) string) error {
	end := time.Now()
	row := sentinel.Health{
		InvocationID:        invocationID,
		APIHost:             h.APIHost,
		Outcome:             Outcome(res, runErr),
		ErrorClass:          ClassOf(runErr),
		ActivitiesForwarded: int64(res.Forwarded),
		Uploads:             res.Uploads,
		APICalls:            int(res.APICalls),
		APIThrottled:        int(res.Throttled),
		MoreToDo:            res.MoreToDo,
		DurationMs:          end.Sub(res.Start).Milliseconds(),
		SkippedReason:       res.Skipped,
		Version:             h.Version,
		End:                 end,
	}
	if runErr != nil {
		row.ErrorMessage = redact(runErr.Error())
	}
	if res.Checkpoint.CreatedMs > 0 {
		row.CheckpointCreated = msTime(res.Checkpoint.CreatedMs)
	}
	if pos := res.Position(); !pos.IsZero() {
		row.ScannedTo = pos
		row.LagSeconds = end.Sub(pos).Seconds()
	}
	// Rows that failed earlier go first, so the gap shows in Sentinel itself.
	h.mu.Lock()
	defer h.mu.Unlock()
	rows := append(h.pending, row)
	if h.batch == nil {
		h.batch = sentinel.NewBatch()
	}
	b := h.batch
	b.Reset()
	for i := range rows {
		h.buf = h.Rows.AppendHealthRow(h.buf[:0], &rows[i])
		if ok, err := b.Append(h.buf); err != nil || !ok {
			return fmt.Errorf("build the health rows: %w", err)
		}
	}
	// Best effort: the run has had its budget, and a health row the service
	// accepted but the client gave up on costs only a second copy of the row
	// in the next upload.
	st, err := h.Uploader.Upload(sentinel.BestEffort(ctx), h.Stream, b)
	h.pending = rows[st.Rows:]
	if len(h.pending) > maxPendingHealth {
		h.pending = h.pending[len(h.pending)-maxPendingHealth:]
	}
	if err != nil {
		return fmt.Errorf("upload %d health rows to %s (kept for the next invocation): %w", len(rows)-st.Rows, h.Stream, err)
	}
	return nil
}

// Outcome is success (the window was read to its end, or there was nothing
// to do), partial (stopped at the budget) or failure.
func Outcome(res Result, err error) string {
	switch {
	case err != nil:
		return "failure"
	case res.MoreToDo:
		return "partial"
	}
	return "success"
}
