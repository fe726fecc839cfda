// Package checkpoint keeps each tenant's checkpoint (the cursor into the
// Activities API and the end of the last window read completely) and the lease
// that lets only one invocation at a time work on that tenant, in one Azure
// Table Storage entity per tenant.
//
// The entity lives in the caller's table under PartitionKey "mcas-sentinel"
// and a RowKey the caller derives from the API host. Every write after the
// first is a conditional replace (If-Match the ETag of our own previous write),
// so a holder whose lease was taken over finds out at its next write
// (ErrLeaseLost) instead of overwriting the new holder's progress; the lease
// and the cursor share the entity, hence the ETag, so a Save can never land
// under a lease that is no longer ours.
//
// A run uses it as
//
//	lease, err := store.Acquire(ctx, holder, time.Now(), ttl, initial) // ErrBusy: someone else works
//	// wait until lease.NotBefore() before the first API call;
//	// renew in a heartbeat (lease.Renew) well within ttl;
//	// after every accepted upload: lease.Save(ctx, state, time.Now())
//	lease.Release(ctx, nextCallNotBefore)
//
// The table is created on first use. Properties (SchemaVersion 1):
// CursorCreated, ScannedTo, LeaseExpires, NextCallNotBefore (Edm.Int64, ms
// since the Unix epoch; 0 = none), CursorSkip, SchemaVersion (Edm.Int32),
// CursorSeen (JSON array of activity ids), ScanState (JSON of the scan-mode
// continuation, empty outside a scan window), LeaseHolder, LeaseToken (random per
// Acquire, to recognise our own writes), UpdatedAt (RFC 3339).
package checkpoint
