package pipeline

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
)

// Result is what one run did.
type Result struct {
	Start      time.Time
	Duration   time.Duration
	Skipped    string // set when another invocation held the lease; nothing was done
	Forwarded  int    // activities accepted by the Logs Ingestion API
	Uploads    int
	Duplicates int // activities dropped because the checkpoint already had them
	APICalls   int64
	Throttled  int64
	Checkpoint checkpoint.Cursor
	ScannedTo  time.Time // end of the last window read completely
	WindowEnd  time.Time // end of this run's window (now - settle delay)
	MoreToDo   bool      // stopped at the budget, or earlier, with activities left to read
	// Interrupted: told to stop before the budget ran out (the worker is
	// shutting down, or the host gave up on the request).
	Interrupted bool
	// Failed: Run returned an error. What the other fields count was done.
	Failed bool
}

// Position is the time up to which every activity has been forwarded.
func (r Result) Position() time.Time {
	if c := msTime(r.Checkpoint.CreatedMs); c.After(r.ScannedTo) {
		return c
	}
	return r.ScannedTo
}

// Summary is the one line the invocation reports.
func (r Result) Summary() string {
	if r.Skipped != "" {
		return "skipped: " + r.Skipped
	}
	more := "no"
	switch {
	case r.Failed:
		more = "yes (the run failed; the next run resumes from the last saved checkpoint)"
	case r.Interrupted:
		more = "yes (told to stop early, as when the worker shuts down; the next run resumes here)"
	case r.MoreToDo:
		more = "yes (run budget reached; the next run resumes here)"
	}
	where := fmt.Sprintf("checkpoint created=%s skip=%d; read up to %s",
		msTime(r.Checkpoint.CreatedMs).Format("2006-01-02T15:04:05.000Z"), r.Checkpoint.Skip,
		r.Position().Format("2006-01-02T15:04:05.000Z"))
	if r.Checkpoint.CreatedMs == 0 && r.ScannedTo.IsZero() {
		// Stopped or failed before the lease: year-1 times would read as a
		// checkpoint gone back to the beginning.
		where = "checkpoint not read (the lease was not taken)"
	}
	return fmt.Sprintf("forwarded %d activities in %d uploads; %d API calls (%d throttled); %s; more to do: %s; took %s",
		r.Forwarded, r.Uploads, r.APICalls, r.Throttled, where, more, r.Duration.Round(time.Millisecond))
}

// Error classes, reported in the health table and the logs.
const (
	ClassToken                = "token"
	ClassAPIAuth              = "api_auth"
	ClassAPIBadRequest        = "api_bad_request"
	ClassAPIUnavailable       = "api_unavailable"
	ClassAPIBadResponse       = "api_bad_response"
	ClassIngestionRejected    = "ingestion_rejected"
	ClassIngestionUnavailable = "ingestion_unavailable"
	ClassCheckpoint           = "checkpoint"
	ClassLeaseLost            = "lease_lost"
	ClassInternal             = "internal"
)

// Error is a failed run, with its class.
type Error struct {
	Class string
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err ("" for nil).
func ClassOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassInternal
}

func classifyAPI(err error) string {
	var (
		apiErr *mcas.APIError
		bad    *mcas.BadResponseError
		tokErr *mcas.TokenError
	)
	switch {
	case errors.Is(err, checkpoint.ErrLeaseLost):
		// The pacer renews before a call and can be the one to find the lease taken.
		return ClassLeaseLost
	case errors.As(err, &tokErr):
		return ClassToken
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		return ClassAPIAuth
	case errors.As(err, &apiErr) && apiErr.StatusCode < 500:
		return ClassAPIBadRequest
	case errors.As(err, &bad):
		return ClassAPIBadResponse
	}
	return ClassAPIUnavailable
}

func classifyUpload(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusRequestTimeout {
		return ClassIngestionRejected
	}
	return ClassIngestionUnavailable
}

func classifySave(err error) string {
	if errors.Is(err, checkpoint.ErrLeaseLost) {
		return ClassLeaseLost
	}
	return ClassCheckpoint
}
