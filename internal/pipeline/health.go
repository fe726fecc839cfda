package pipeline

import (
	"context"
	"fmt"
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
}

// Report builds the invocation's health row and uploads it. redact removes
// the token from the error text. The row never carries an activity.
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
	b := sentinel.NewBatch()
	if ok, err := b.Append(h.Rows.AppendHealthRow(nil, &row)); err != nil || !ok {
		return fmt.Errorf("build the health row: %w", err)
	}
	if _, err := h.Uploader.Upload(ctx, h.Stream, b); err != nil {
		return fmt.Errorf("upload the health row to %s: %w", h.Stream, err)
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
