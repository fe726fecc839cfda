package checkpoint

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Lease is a held lease on one tenant's checkpoint. Its methods are safe for
// concurrent use (a heartbeat goroutine renews while the run saves): writes
// are serialized, each conditional on the ETag of the previous one.
//
// Once a write reports ErrLeaseLost, or after Release, every later write
// returns an error wrapping ErrLeaseLost without a request.
type Lease struct {
	store     *Store
	holder    string
	ttl       time.Duration
	found     bool
	loaded    State
	notBefore time.Time

	expiresMs atomic.Int64 // of the last successful write, readable without mu

	mu   sync.Mutex // serializes writes
	etag azcore.ETag
	cur  record // as last written
	// pending is the last write that failed without a clear answer: it may
	// have landed.
	pending *record
	done    error // set once lost or released
}

func newLease(s *Store, holder string, ttl time.Duration, rec record, etag azcore.ETag, found bool, notBefore time.Time) *Lease {
	l := &Lease{
		store:     s,
		holder:    holder,
		ttl:       ttl,
		found:     found,
		loaded:    cloneState(rec.State),
		notBefore: notBefore,
		etag:      etag,
		cur:       rec,
	}
	l.expiresMs.Store(rec.LeaseExpiresMs)
	return l
}

// State returns the checkpoint as loaded by Acquire (Acquire's initial
// State when Found is false).
func (l *Lease) State() State { return cloneState(l.loaded) }

// Found reports whether a checkpoint entity existed before Acquire; it is
// false only on the very first run for the tenant.
func (l *Lease) Found() bool { return l.found }

// Holder returns the holder name given to Acquire.
func (l *Lease) Holder() string { return l.holder }

// NotBefore returns the earliest time this holder may make its first API call:
// the NextCallNotBefore the previous holder released with, or, when Acquire
// took over a lease that was never released (its holder died), that lease's
// expiry, whichever is later. The zero time means no constraint.
func (l *Lease) NotBefore() time.Time { return l.notBefore }

// Expires returns when the lease runs out as last written (zero after
// Release). It does not block on a write in progress.
func (l *Lease) Expires() time.Time { return msTime(l.expiresMs.Load()) }

// Renew extends the lease to now+ttl (never shortening it) with a conditional
// write. It blocks for one request, bounded by ctx, after any write in
// progress. An error wrapping ErrLeaseLost means another holder took over.
// After any other error the write may or may not have landed; the Lease
// remembers it and sorts that out at its next write, so Renew (or any other
// write) may simply follow.
func (l *Lease) Renew(ctx context.Context, now time.Time) error {
	return l.HoldOff(ctx, now, time.Time{})
}

// HoldOff renews the lease as Renew does and makes sure that a holder taking
// it over after it expired (this one having died) makes no API call before
// until: when until falls after the renewed expiry, it is written as
// NextCallNotBefore, which Acquire honours as it does a release's. A run
// calls it before each API call whose interval its lease's life cannot
// cover.
func (l *Lease) HoldOff(ctx context.Context, now, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(ctx, "renew", func(base record) (record, error) {
		base.LeaseExpiresMs = l.extended(base, now)
		if u := timeMs(until); u > base.LeaseExpiresMs {
			base.NextCallNotBeforeMs = max(base.NextCallNotBeforeMs, u)
		}
		base.UpdatedAt = now
		return base, nil
	})
}

// Save stores st and extends the lease to now+ttl, in one conditional write,
// so a checkpoint is never saved under a lease that is no longer ours. Seen is
// cut to its last MaxSeen ids (fewer when they are long). A cursor behind the
// last saved one is a programming error and is refused without a request;
// one that reads its millisecond again, keeping every id the saved one
// passed, is not behind (see rereads).
// Errors are as for Renew: after one that is not ErrLeaseLost the save may
// or may not have landed, and may be retried.
func (l *Lease) Save(ctx context.Context, st State, now time.Time) error {
	c := st.Cursor
	switch {
	case c.CreatedMs < 0 || c.CreatedMs > maxMs:
		return refused{fmt.Errorf("checkpoint: save: cursor created %d ms is out of range", c.CreatedMs)}
	case c.Skip < 0 || c.Skip > 1<<31-1:
		return refused{fmt.Errorf("checkpoint: save: cursor skip %d is out of range", c.Skip)}
	case st.ScannedToMs < 0 || st.ScannedToMs > maxMs:
		return refused{fmt.Errorf("checkpoint: save: scanned-to %d ms is out of range", st.ScannedToMs)}
	}
	st.Cursor.Seen = slices.Clone(capSeen(c.Seen))
	if len(st.Cursor.Seen) == 0 {
		st.Cursor.Seen = nil
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(ctx, "save", func(base record) (record, error) {
		if prev := base.State.Cursor; c.CreatedMs < prev.CreatedMs || (c.CreatedMs == prev.CreatedMs && c.Skip < prev.Skip && !rereads(st.Cursor, prev)) {
			return record{}, refused{fmt.Errorf("checkpoint: save: cursor (created %d, skip %d) is behind the saved one (created %d, skip %d)",
				c.CreatedMs, c.Skip, prev.CreatedMs, prev.Skip)}
		}
		base.State = st
		base.LeaseExpiresMs = l.extended(base, now)
		base.UpdatedAt = now
		return base, nil
	})
}

// rereads reports whether c, at prev's millisecond with a smaller Skip,
// reads positions prev had passed again: it keeps every id prev kept, so it
// sends none of those twice. A run does that when the API ordered the
// millisecond differently between calls. Seen only grows inside a
// millisecond, so c's ids are prev's followed by those sent since, less the
// oldest that the cap (MaxSeen, maxSeenUnits) drops once there are more:
// those, and only those, may be missing. (When prev passed more positions
// than it kept ids of, a tie longer than MaxSeen, the unkept ones are sent
// again, so c must have sent something since: see pipeline's
// leaveMillisecond.)
func rereads(c, prev Cursor) bool {
	kept := make(map[string]struct{}, len(c.Seen))
	for _, id := range c.Seen {
		kept[id] = struct{}{}
	}
	dropped := 0 // prev's oldest ids that c no longer keeps
	for i, id := range prev.Seen {
		if _, ok := kept[id]; !ok {
			if i != dropped {
				return false // a kept id dropped before an older one
			}
			dropped++
		}
	}
	rest := prev.Seen[dropped:]
	if len(c.Seen) < len(rest) || !slices.Equal(c.Seen[:len(rest)], rest) {
		return false
	}
	added := len(c.Seen) - len(rest)
	if dropped > 0 && len(capSeen(append([]string{prev.Seen[dropped-1]}, c.Seen...))) != len(c.Seen) {
		return false // the cap would have kept the last id dropped
	}
	if prev.Skip > len(prev.Seen) && added == 0 {
		return false
	}
	return true
}

// Release gives the lease up: the next Acquire succeeds at once and waits
// only until nextCallNotBefore (or this lease's own NotBefore, if later) for
// its first API call. It blocks for one request, bounded by ctx, so pass a
// context that outlives the run's deadline. An error wrapping ErrLeaseLost
// means the lease had already been taken over (or released); after another
// error the lease may stay held until it expires, and Release may be retried.
func (l *Lease) Release(ctx context.Context, nextCallNotBefore time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	err := l.write(ctx, "release", func(base record) (record, error) {
		if base.LeaseHolder == "" {
			return base, nil // a release that failed without an answer had landed
		}
		base.LeaseHolder = ""
		base.LeaseExpiresMs = 0
		base.NextCallNotBeforeMs = max(timeMs(nextCallNotBefore), timeMs(l.notBefore), base.NextCallNotBeforeMs)
		base.UpdatedAt = now
		return base, nil
	})
	if err != nil {
		return err
	}
	l.done = l.released()
	return nil
}

func (l *Lease) released() error {
	return fmt.Errorf("%w: checkpoint %q: the lease was released", ErrLeaseLost, l.store.key)
}

func (l *Lease) extended(base record, now time.Time) int64 {
	return min(max(base.LeaseExpiresMs, now.UnixMilli()+l.ttl.Milliseconds()), maxMs)
}

// write applies change to the entity as we last wrote it and replaces the
// entity with the result if it still holds that write. The caller holds mu.
func (l *Lease) write(ctx context.Context, op string, change func(base record) (record, error)) error {
	if l.done != nil {
		return l.done
	}
	next, err := change(l.cur)
	if err != nil {
		return err
	}
	etag, err := l.store.update(ctx, next, l.etag)
	if lostCondition(err) {
		// A write can land although its answer was lost: the retry policy
		// then resends it and the resent one fails its condition, or every
		// try fails and the caller got an error for a write that landed
		// (kept in pending). Either way the entity holds exactly that write.
		if raw, curETag, gerr := l.store.get(ctx); gerr == nil {
			if rec, derr := decodeEntity(raw); derr == nil {
				switch {
				case sameRecord(rec, next):
					etag, err = curETag, nil
				case l.pending != nil && sameRecord(rec, *l.pending):
					l.etag, l.cur, l.pending = curETag, *l.pending, nil
					l.expiresMs.Store(l.cur.LeaseExpiresMs)
					if l.cur.LeaseHolder == "" && op != "release" {
						l.done = l.released()
						return l.done
					}
					if next, err = change(l.cur); err != nil {
						return err
					}
					if sameRecord(next, l.cur) {
						etag = curETag
					} else {
						etag, err = l.store.update(ctx, next, l.etag)
					}
				}
			}
		}
	}
	l.pending = nil
	if err != nil {
		if lostCondition(err) {
			l.done = fmt.Errorf("%w: checkpoint %q: %s failed, someone else has written it since: %w", ErrLeaseLost, l.store.key, op, err)
			l.expiresMs.Store(0)
			return l.done
		}
		l.pending = &next
		return fmt.Errorf("checkpoint %q: %s: %w", l.store.key, op, err)
	}
	l.etag, l.cur = etag, next
	l.expiresMs.Store(next.LeaseExpiresMs)
	return nil
}

// lostCondition reports a write refused because the entity is no longer the
// one we last wrote (changed, or deleted).
func lostCondition(err error) bool {
	return conditionFailed(err) || hasStatus(err, http.StatusNotFound)
}

func cloneState(s State) State {
	s.Cursor.Seen = slices.Clone(s.Cursor.Seen)
	if s.Scan != nil {
		sc := *s.Scan
		sc.Filters = slices.Clone(sc.Filters)
		s.Scan = &sc
	}
	return s
}
