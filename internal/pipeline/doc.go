// Package pipeline is one run of the connector: take the tenant's lease, read
// every activity created since the checkpoint up to now minus the settle
// delay, send them to Sentinel in batches, and move the checkpoint after each
// accepted batch.
//
// The cursor is (created, skip, seen): every activity created before
// `created` has been sent, plus the first `skip` activities (in the API's
// order) that share the `created` millisecond; `seen` holds their ids as
// insurance against a reordering of that millisecond. Reading by `created`
// (when the service saved the activity) and not by `date` (when it happened)
// is what makes late arrivals safe: an activity that reaches the service hours
// after it happened still gets a `created` after the cursor. Any number of
// activities may share one millisecond: the next call asks for created >= the
// cursor's millisecond and skips the ones already taken, so a page boundary
// inside a tie neither loses nor repeats anything. The API does not promise
// to order a millisecond's activities the same way on every call: before
// the cursor leaves a millisecond it checks that it sent as many distinct
// ids there as it passed positions, and otherwise reads the millisecond
// again from its start, `seen` dropping what was sent (cursor.missed).
//
// Only one run per tenant works at a time: the lease lives in the checkpoint's
// own Table entity, every write to it is conditional on its ETag, and a
// heartbeat keeps it while the run is alive. The same lease hands the API's
// pacing from one process to the next: a holder never calls the API later
// than its lease's expiry minus one call interval, so a successor that starts
// after the expiry keeps the tenant under its calls-per-minute limit.
package pipeline
