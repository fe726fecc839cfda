package soak

import (
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

// APIFaults are drawn at random for requests to the Activities API: what a
// throttled, overloaded or flaky tenant and the proxies in front of it do.
// Every one of them must be retried or fail loudly, and lose nothing.
// AcceptThenReset is harmless here (reading has no effect), so it is in.
var APIFaults = []fault.Fault{
	{Kind: fault.Status, Status: 429, RetryAfter: "1"},
	{Kind: fault.Status, Status: 429, RetryAfter: "3"},
	{Kind: fault.Status, Status: 429}, // no Retry-After: the client backs off by itself
	{Kind: fault.HTMLPage, Status: 502},
	{Kind: fault.HTMLPage, Status: 503},
	{Kind: fault.HTMLPage, Status: 504},
	{Kind: fault.Status, Status: 500},
	{Kind: fault.Status, Status: 503, RetryAfter: "2"},
	{Kind: fault.Reset},
	{Kind: fault.Truncate},
	{Kind: fault.AcceptThenReset},
	{Kind: fault.Delay, Delay: 500 * time.Millisecond},
	{Kind: fault.Delay, Delay: 3 * time.Second},
}

// IngestionFaults are drawn at random for requests to the Logs Ingestion API.
// AcceptThenReset is left out on purpose: the service stores the rows and the
// client never hears so, and no client can tell that from a lost answer, so
// the retry duplicates them by the design of the network, not by a fault of
// the connector; counting those would hide the duplicates the soak is for.
// Truncate on an upload's empty 204 answer only closes the connection after
// a complete answer.
var IngestionFaults = []fault.Fault{
	{Kind: fault.Status, Status: 429, RetryAfter: "1"},
	{Kind: fault.Status, Status: 429},
	{Kind: fault.HTMLPage, Status: 502},
	{Kind: fault.HTMLPage, Status: 503},
	{Kind: fault.Status, Status: 500},
	{Kind: fault.Status, Status: 503},
	{Kind: fault.Reset},
	{Kind: fault.Truncate},
	{Kind: fault.Delay, Delay: time.Second},
	{Kind: fault.Delay, Delay: 3 * time.Second},
}
