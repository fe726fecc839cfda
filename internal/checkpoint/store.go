package checkpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Cursor is a position in the created-ascending stream of activities: every
// activity created before CreatedMs, plus the first Skip (in API order) of
// those created at CreatedMs, is done. Seen holds the ids of the activities
// done at CreatedMs (the last MaxSeen of them): those Skip, and after the
// API reordered the millisecond between calls, more, since the run then
// reads it again from a smaller Skip (see Lease.Save).
type Cursor struct {
	CreatedMs int64
	Skip      int
	Seen      []string
}

// State is what a checkpoint remembers between runs.
type State struct {
	Cursor Cursor
	// ScannedToMs is the end (ms since the epoch) of the last window that was
	// read completely.
	ScannedToMs int64
	// Scan is set while a scan-mode window is under way (nil otherwise).
	Scan *Scan
}

// Scan is the continuation of a scan-mode window: Cursor stays at the
// window's start until the whole window is forwarded, since scan mode walks
// it by date, not by created.
type Scan struct {
	// Filters is the filters object of the next request: the window's own
	// first, then each answer's nextQueryFilters, verbatim.
	Filters json.RawMessage `json:"filters"`
	// Done counts the rows of that request's answer already forwarded.
	Done int `json:"done"`
	// WindowEndMs is the window's end, ms since the epoch (created, inclusive).
	WindowEndMs int64 `json:"windowEnd"`
	// Boundary names the forwarded rows of that answer that share the last
	// one's date (nil when there are none, or too many to keep): a scan
	// answers by date descending, so every row of a later date is done, and
	// of the boundary date exactly these, in whatever order the API lists
	// that date's rows when asked again. Kept in a property of its own, which
	// a version that does not know it ignores (and resumes by Done).
	Boundary *ScanBoundary `json:"-"`
}

// ScanBoundary is the date of a scan position's last forwarded row and the
// ids of the forwarded rows of its answer that share that date.
type ScanBoundary struct {
	DateMs int64    `json:"date"`
	IDs    []string `json:"ids"`
}

// Store reads and writes one tenant's checkpoint entity. It is safe for
// concurrent use; each Acquire returns an independent Lease.
type Store struct {
	client *aztables.Client
	key    string
}

// maxKeyBytes is the Table service's limit for a RowKey, counted in UTF-16
// (the service's own encoding), to be safe.
const maxKeyBytes = 1024

// NewStore returns a Store for the entity with RowKey key in client's table.
// It fails if key is empty, over 1 KiB as UTF-16, not UTF-8, or contains a
// character Table keys forbid (/ \ # ? and control characters). It makes no
// request; the table is created on the first Acquire.
func NewStore(client *aztables.Client, key string) (*Store, error) {
	if client == nil {
		return nil, errors.New("checkpoint: nil table client")
	}
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	return &Store{client: client, key: key}, nil
}

// ValidateKey reports whether key can be a checkpoint's RowKey.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("checkpoint key: empty")
	case !utf8.ValidString(key):
		return fmt.Errorf("checkpoint key %q: not valid UTF-8", key)
	case 2*len(utf16.Encode([]rune(key))) > maxKeyBytes:
		return fmt.Errorf("checkpoint key: longer than the Table service's %d bytes of UTF-16", maxKeyBytes)
	}
	for _, r := range key {
		switch {
		case r == '/' || r == '\\' || r == '#' || r == '?':
			return fmt.Errorf("checkpoint key %q: Table keys cannot contain %q", key, r)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Errorf("checkpoint key %q: Table keys cannot contain control characters", key)
		}
	}
	return nil
}

// Key returns the entity's RowKey.
func (s *Store) Key() string { return s.key }

// Acquire takes the tenant's lease for holder until now+ttl and loads the
// checkpoint. It succeeds when there is no entity yet (creating the table and
// the entity), when the lease was released or has expired, or when holder
// itself holds it; it then takes over with a conditional write, so of many
// concurrent callers exactly one wins. When another holder's lease is live, or
// another caller won the race, it returns a *BusyError (errors.Is ErrBusy).
// A checkpoint that cannot be decoded gives an error wrapping *DecodeError;
// the entity is then left alone. holder must be unique per run. Acquire makes
// a few blocking requests bounded by ctx.
//
// initial is the checkpoint a new entity starts with, written in the same
// request that creates it: a first run that fails before its first save
// must not leave a checkpoint at zero behind it, which the next run would
// read as the start of time.
func (s *Store) Acquire(ctx context.Context, holder string, now time.Time, ttl time.Duration, initial State) (*Lease, error) {
	if holder == "" {
		return nil, errors.New("checkpoint: Acquire needs a holder name")
	}
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("checkpoint: lease ttl %v is too short", ttl)
	}
	nowMs := now.UnixMilli()
	if nowMs <= 0 || nowMs > maxMs-ttl.Milliseconds() {
		return nil, fmt.Errorf("checkpoint: Acquire at %v: out of range", now)
	}
	want := record{LeaseHolder: holder, LeaseToken: rand.Text(), LeaseExpiresMs: nowMs + ttl.Milliseconds(), UpdatedAt: now}

	raw, etag, err := s.get(ctx)
	if errors.Is(err, errNotFound) {
		want.State = cloneState(initial)
		etag, err = s.add(ctx, want)
		if hasCode(err, aztables.EntityAlreadyExists) {
			return s.lostRace(ctx, want, ttl, false, time.Time{}, err)
		}
		if err != nil {
			return nil, err
		}
		return newLease(s, holder, ttl, want, etag, false, time.Time{}), nil
	}
	if err != nil {
		return nil, err
	}

	old, err := decodeEntity(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", s.key, err)
	}
	if old.LeaseHolder != "" && old.LeaseHolder != holder && old.LeaseExpiresMs > nowMs {
		return nil, &BusyError{Holder: old.LeaseHolder, Until: msTime(old.LeaseExpiresMs)}
	}
	// The previous holder may have called the API until its lease's expiry
	// (one that released set LeaseExpires to 0), and asked for a pause after
	// its last call (NextCallNotBefore).
	notBeforeMs := old.NextCallNotBeforeMs
	if old.LeaseHolder != "" {
		notBeforeMs = max(notBeforeMs, old.LeaseExpiresMs)
	}
	want.State = old.State
	want.NextCallNotBeforeMs = old.NextCallNotBeforeMs
	etag, err = s.update(ctx, want, etag)
	if lostCondition(err) {
		return s.lostRace(ctx, want, ttl, true, msTime(notBeforeMs), err)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: take over the lease: %w", s.key, err)
	}
	return newLease(s, holder, ttl, want, etag, true, msTime(notBeforeMs)), nil
}

// lostRace handles a create or takeover that another writer beat. When the
// entity holds exactly what we wrote (our token included), the write did land
// and the client's retry policy resent it after a lost answer: the lease is
// ours after all.
func (s *Store) lostRace(ctx context.Context, want record, ttl time.Duration, found bool, notBefore time.Time, cause error) (*Lease, error) {
	raw, etag, err := s.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", &BusyError{}, cause)
	}
	cur, err := decodeEntity(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", &BusyError{}, cause)
	}
	if sameRecord(cur, want) {
		return newLease(s, want.LeaseHolder, ttl, want, etag, found, notBefore), nil
	}
	return nil, &BusyError{Holder: cur.LeaseHolder, Until: msTime(cur.LeaseExpiresMs)}
}

var errNotFound = errors.New("checkpoint entity not found")

// get reads the entity. A missing entity or table gives errNotFound.
func (s *Store) get(ctx context.Context) ([]byte, azcore.ETag, error) {
	resp, err := s.client.GetEntity(ctx, PartitionKey, s.key, nil)
	if hasStatus(err, http.StatusNotFound) {
		// TableNotFound and ResourceNotFound alike: add creates the table.
		return nil, "", errNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint %q: read: %w", s.key, err)
	}
	return resp.Value, resp.ETag, nil
}

// add creates the entity, creating the table first if it does not exist.
func (s *Store) add(ctx context.Context, rec record) (azcore.ETag, error) {
	body, err := encodeEntity(s.key, rec)
	if err != nil {
		return "", fmt.Errorf("checkpoint %q: %w", s.key, err)
	}
	resp, err := s.client.AddEntity(ctx, body, nil)
	if hasCode(err, aztables.TableNotFound) {
		if err := s.createTable(ctx); err != nil {
			return "", err
		}
		resp, err = s.client.AddEntity(ctx, body, nil)
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint %q: create: %w", s.key, err)
	}
	return resp.ETag, nil
}

func (s *Store) createTable(ctx context.Context) error {
	_, err := s.client.CreateTable(ctx, nil)
	if err != nil && !hasCode(err, aztables.TableAlreadyExists) {
		return fmt.Errorf("checkpoint: create the table: %w", err)
	}
	return nil
}

// update replaces the entity if its ETag is still etag. Errors are returned
// unwrapped, for the caller to classify and wrap.
func (s *Store) update(ctx context.Context, rec record, etag azcore.ETag) (azcore.ETag, error) {
	body, err := encodeEntity(s.key, rec)
	if err != nil {
		return "", refused{err}
	}
	resp, err := s.client.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{
		IfMatch:    &etag,
		UpdateMode: aztables.UpdateModeReplace,
	})
	if err != nil {
		return "", err
	}
	return resp.ETag, nil
}

// sameRecord reports whether two records hold the same values, as stored.
func sameRecord(a, b record) bool {
	if a.State.Cursor.CreatedMs != b.State.Cursor.CreatedMs || a.State.Cursor.Skip != b.State.Cursor.Skip ||
		a.State.ScannedToMs != b.State.ScannedToMs || !sameScan(a.State.Scan, b.State.Scan) || a.LeaseHolder != b.LeaseHolder || a.LeaseToken != b.LeaseToken ||
		a.LeaseExpiresMs != b.LeaseExpiresMs || a.NextCallNotBeforeMs != b.NextCallNotBeforeMs ||
		!a.UpdatedAt.Equal(b.UpdatedAt) || len(a.State.Cursor.Seen) != len(b.State.Cursor.Seen) {
		return false
	}
	for i, id := range a.State.Cursor.Seen {
		if b.State.Cursor.Seen[i] != id {
			return false
		}
	}
	return true
}

// msTime converts stored milliseconds to a time; 0 means none (zero time).
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// timeMs converts a time to stored milliseconds; the zero time (and anything
// before 1970) is 0.
func timeMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return min(max(t.UnixMilli(), 0), maxMs)
}

func sameScan(a, b *Scan) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Done == b.Done && a.WindowEndMs == b.WindowEndMs && bytes.Equal(a.Filters, b.Filters)
}
