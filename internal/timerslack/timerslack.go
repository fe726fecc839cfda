package timerslack

import "time"

// Slack is the slack the handler runs with.
const Slack = time.Millisecond

// Result says what Ensure found or did.
type Result struct {
	// Slack is the calling thread's slack when Ensure returned.
	Slack time.Duration
	// Reexecuted is true in an image that Ensure started.
	Reexecuted bool
}
