package timerslack

import (
	"errors"
	"time"
)

// Slack is the slack the handler runs with.
const Slack = time.Millisecond

// ErrUnsupported is returned where the kernel has no per-thread timer slack.
var ErrUnsupported = errors.New("timer slack is not supported on this system")

// Result says what Ensure found or did.
type Result struct {
	// Slack is the calling thread's slack when Ensure returned.
	Slack time.Duration
	// Reexecuted is true in an image that Ensure started.
	Reexecuted bool
}
