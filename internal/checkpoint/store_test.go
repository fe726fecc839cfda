package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

// t0 is the injected "now" most tests start from: lease expiry is judged by
// the now passed in, so tests need no sleeping.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const ttl = 30 * time.Second

// newClient returns a client for a fresh (not yet created) table in the
// package's shared Azurite.
func newClient(t *testing.T) *aztables.Client {
	t.Helper()
	c, err := checkpoint.NewClientFromConnectionString(azuritetest.Shared(t).ConnectionString(), azuritetest.UniqueTable(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newStore(t *testing.T, key string) (*checkpoint.Store, *aztables.Client) {
	t.Helper()
	c := newClient(t)
	s, err := checkpoint.NewStore(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func acquire(t *testing.T, s *checkpoint.Store, holder string, now time.Time) *checkpoint.Lease {
	t.Helper()
	l, err := s.Acquire(context.Background(), holder, now, ttl, checkpoint.State{})
	if err != nil {
		t.Fatalf("Acquire(%s, %v): %v", holder, now, err)
	}
	return l
}

// rawEntity reads the stored entity as the service returns it.
func rawEntity(t *testing.T, c *aztables.Client, key string) map[string]any {
	t.Helper()
	resp, err := c.GetEntity(context.Background(), checkpoint.PartitionKey, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFirstAcquireCreatesTableAndEntity(t *testing.T) {
	for _, tableExists := range []bool{false, true} {
		t.Run(fmt.Sprintf("tableExists=%v", tableExists), func(t *testing.T) {
			ctx := context.Background()
			s, c := newStore(t, "contoso.us3.portal.cloudappsecurity.com")
			if tableExists {
				if _, err := c.CreateTable(ctx, nil); err != nil {
					t.Fatal(err)
				}
			}
			l := acquire(t, s, "run-1", t0)
			if l.Found() {
				t.Error("Found() = true on the first run")
			}
			if diff := cmp.Diff(checkpoint.State{}, l.State()); diff != "" {
				t.Errorf("State() on the first run (-want +got):\n%s", diff)
			}
			if !l.NotBefore().IsZero() {
				t.Errorf("NotBefore() = %v, want zero", l.NotBefore())
			}
			if want := t0.Add(ttl); !l.Expires().Equal(want) {
				t.Errorf("Expires() = %v, want %v", l.Expires(), want)
			}

			got := rawEntity(t, c, s.Key())
			if tok, _ := got["LeaseToken"].(string); tok == "" {
				t.Errorf("LeaseToken = %v, want a random token", got["LeaseToken"])
			}
			if u, _ := got["UpdatedAt"].(string); u != "2026-03-01T12:00:00Z" {
				t.Errorf("UpdatedAt = %v, want the Acquire time", got["UpdatedAt"])
			}
			for _, k := range []string{"odata.etag", "odata.metadata", "Timestamp", "UpdatedAt", "LeaseToken"} {
				delete(got, k)
			}
			want := map[string]any{
				"PartitionKey":                 "mcas-sentinel",
				"RowKey":                       "contoso.us3.portal.cloudappsecurity.com",
				"SchemaVersion":                float64(1),
				"CursorCreated":                "0",
				"CursorCreated@odata.type":     "Edm.Int64",
				"CursorSkip":                   float64(0),
				"CursorSeen":                   "[]",
				"ScanState":                    "",
				"ScanBoundary":                 "",
				"ScannedTo":                    "0",
				"ScannedTo@odata.type":         "Edm.Int64",
				"LeaseHolder":                  "run-1",
				"LeaseExpires":                 fmt.Sprint(t0.Add(ttl).UnixMilli()),
				"LeaseExpires@odata.type":      "Edm.Int64",
				"NextCallNotBefore":            "0",
				"NextCallNotBefore@odata.type": "Edm.Int64",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored entity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStateRoundTrips(t *testing.T) {
	ids := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	short := ids(600, func(i int) string { return fmt.Sprintf("97134000_15600_%036d", i) })
	long := ids(500, func(i int) string { return fmt.Sprintf("%0200d", i) })
	tests := []struct {
		name string
		save checkpoint.State
		want *checkpoint.State // nil: same as save
	}{
		{name: "zero"},
		{name: "int64 beyond 2^31", save: checkpoint.State{
			Cursor:      checkpoint.Cursor{CreatedMs: 1<<41 + 123, Skip: 1<<31 - 1, Seen: []string{"a"}},
			ScannedToMs: 1<<42 + 7,
		}},
		{name: "ids with quotes and unicode", save: checkpoint.State{
			Cursor: checkpoint.Cursor{CreatedMs: t0.UnixMilli(), Skip: 5, Seen: []string{
				`he said "hi"`, `back\slash`, "ünïcødé ✓", "emoji 🙂 outside the BMP", "<tag> & 'quote'",
			}},
			ScannedToMs: t0.UnixMilli(),
		}},
		{name: "scan continuation", save: checkpoint.State{
			Cursor: checkpoint.Cursor{CreatedMs: t0.UnixMilli()},
			Scan: &checkpoint.Scan{
				Filters:     json.RawMessage(`{"created":{"gte":1,"lte":2},"date":{"lte":1595096313000,"range":{"start":1,"end":2}}}`),
				Done:        1234,
				WindowEndMs: t0.UnixMilli() + 5000,
			},
		}},
		{name: "more ids than MaxSeen keeps the last", save: checkpoint.State{
			Cursor: checkpoint.Cursor{CreatedMs: 1, Skip: 600, Seen: short},
		}, want: &checkpoint.State{
			Cursor: checkpoint.Cursor{CreatedMs: 1, Skip: 600, Seen: short[600-checkpoint.MaxSeen:]},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t, "tenant")
			a := acquire(t, s, "a", t0)
			if err := a.Save(ctx, tt.save, t0.Add(time.Second)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if err := a.Release(ctx, time.Time{}); err != nil {
				t.Fatalf("Release: %v", err)
			}
			b := acquire(t, s, "b", t0.Add(2*time.Second))
			want := tt.save
			if tt.want != nil {
				want = *tt.want
			}
			if diff := cmp.Diff(want, b.State()); diff != "" {
				t.Errorf("State() after Save (-want +got):\n%s", diff)
			}
			if !b.Found() {
				t.Error("Found() = false after a save")
			}
		})
	}

	t.Run("long ids stay under the property limit", func(t *testing.T) {
		ctx := context.Background()
		s, c := newStore(t, "tenant")
		a := acquire(t, s, "a", t0)
		if err := a.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 1, Skip: 500, Seen: long}}, t0); err != nil {
			t.Fatalf("Save: %v", err)
		}
		seen := rawEntity(t, c, s.Key())["CursorSeen"].(string)
		if n := len(utf16.Encode([]rune(seen))); n > 32<<10 {
			t.Errorf("CursorSeen is %d UTF-16 code units, over the 32 Ki limit", n)
		}
		var got []string
		if err := json.Unmarshal([]byte(seen), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) >= len(long) {
			t.Fatalf("kept %d of %d long ids, want a proper non-empty suffix", len(got), len(long))
		}
		if diff := cmp.Diff(long[len(long)-len(got):], got); diff != "" {
			t.Errorf("kept ids are not the last ones (-want +got):\n%s", diff)
		}
	})
}

func TestKeysWithUnusualCharactersWork(t *testing.T) {
	for _, key := range []string{"it's a key", "100% ünïcode", "a.b-c_d:e@f"} {
		t.Run(key, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t, key)
			a := acquire(t, s, "a", t0)
			st := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 5, Skip: 1, Seen: []string{"x"}}}
			if err := a.Save(ctx, st, t0); err != nil {
				t.Fatal(err)
			}
			if err := a.Release(ctx, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st, acquire(t, s, "b", t0).State()); diff != "" {
				t.Errorf("State() (-want +got):\n%s", diff)
			}
		})
	}
}

// A new checkpoint is created at Acquire's initial state, in the same write,
// so that a first run failing before its first save leaves that starting
// point behind; an existing checkpoint keeps its own.
func TestAcquireCreatesTheInitialState(t *testing.T) {
	s, _ := newStore(t, "tenant")
	ctx := context.Background()
	initial := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: t0.Add(-24 * time.Hour).UnixMilli()}}
	first, err := s.Acquire(ctx, "a", t0, ttl, initial)
	if err != nil {
		t.Fatal(err)
	}
	if first.Found() {
		t.Error("Found() = true for a checkpoint Acquire created")
	}
	if diff := cmp.Diff(initial, first.State()); diff != "" {
		t.Errorf("first State() (-want +got):\n%s", diff)
	}
	if err := first.Release(ctx, time.Time{}); err != nil { // the run failed: nothing saved
		t.Fatal(err)
	}
	next, err := s.Acquire(ctx, "b", t0.Add(time.Minute), ttl, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !next.Found() {
		t.Error("Found() = false for an existing checkpoint")
	}
	if diff := cmp.Diff(initial, next.State()); diff != "" {
		t.Errorf("next State(), want the first's initial (-want +got):\n%s", diff)
	}
}

func TestLiveLeaseOfAnotherHolderIsBusy(t *testing.T) {
	s, _ := newStore(t, "tenant")
	a := acquire(t, s, "holder-a", t0)
	if err := a.Renew(context.Background(), t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(5*time.Second + ttl)
	for _, at := range []time.Duration{time.Second, 5*time.Second + ttl - time.Millisecond} {
		_, err := s.Acquire(context.Background(), "holder-b", t0.Add(at), ttl, checkpoint.State{})
		if !errors.Is(err, checkpoint.ErrBusy) {
			t.Fatalf("Acquire at +%v: err = %v, want ErrBusy", at, err)
		}
		var busy *checkpoint.BusyError
		if !errors.As(err, &busy) {
			t.Fatalf("Acquire: err %T is not a *BusyError", err)
		}
		if diff := cmp.Diff(checkpoint.BusyError{Holder: "holder-a", Until: until}, *busy); diff != "" {
			t.Errorf("BusyError (-want +got):\n%s", diff)
		}
	}
}

// HoldOff keeps a successor's first API call back to its until, through
// the dead holder's lease: past the expiry it is written as
// NextCallNotBefore, within it the expiry does the same.
func TestHoldOffKeepsASuccessorBack(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		until    time.Duration // after the HoldOff
		wantWait time.Duration // the successor's NotBefore, after the HoldOff
	}{
		{"past the lease's life", ttl + 30*time.Second, ttl + 30*time.Second},
		{"within it", ttl - 10*time.Second, ttl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, "tenant")
			a := acquire(t, s, "a", t0)
			at := t0.Add(5 * time.Second)
			if err := a.HoldOff(ctx, at, at.Add(tc.until)); err != nil {
				t.Fatal(err)
			}
			if !a.Expires().Equal(at.Add(ttl)) {
				t.Errorf("Expires() = %v, want renewed to %v", a.Expires(), at.Add(ttl))
			}
			// a dies; b takes over at the expiry.
			b, err := s.Acquire(ctx, "b", at.Add(ttl), ttl, checkpoint.State{})
			if err != nil {
				t.Fatalf("Acquire at the dead lease's expiry: %v", err)
			}
			if want := at.Add(tc.wantWait); !b.NotBefore().Equal(want) {
				t.Errorf("NotBefore() = %v, want %v", b.NotBefore(), want)
			}
		})
	}
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")
	a := acquire(t, s, "a", t0)
	st := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 1000, Skip: 2, Seen: []string{"x", "y"}}, ScannedToMs: 900}
	if err := a.Save(ctx, st, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	aExpiry := t0.Add(2*time.Second + ttl)

	b, err := s.Acquire(ctx, "b", aExpiry, ttl, checkpoint.State{}) // expiry == now: expired
	if err != nil {
		t.Fatalf("Acquire at the old lease's expiry: %v", err)
	}
	if !b.Found() {
		t.Error("Found() = false")
	}
	if diff := cmp.Diff(st, b.State()); diff != "" {
		t.Errorf("taken-over State() (-want +got):\n%s", diff)
	}
	if !b.NotBefore().Equal(aExpiry) {
		t.Errorf("NotBefore() = %v, want the dead holder's expiry %v", b.NotBefore(), aExpiry)
	}

	// The old holder finds out at its next write, whatever it is.
	later := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 2000}}
	for name, write := range map[string]func() error{
		"Save":    func() error { return a.Save(ctx, later, aExpiry) },
		"Renew":   func() error { return a.Renew(ctx, aExpiry) },
		"Release": func() error { return a.Release(ctx, time.Time{}) },
	} {
		if err := write(); !errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Errorf("old holder's %s: err = %v, want ErrLeaseLost", name, err)
		}
	}
	if !a.Expires().IsZero() {
		t.Errorf("old holder's Expires() = %v after losing the lease, want zero", a.Expires())
	}
	// The new holder was not disturbed.
	if err := b.Save(ctx, later, aExpiry.Add(time.Second)); err != nil {
		t.Errorf("new holder's Save: %v", err)
	}
}

func TestNotBeforeHandOff(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")

	a := acquire(t, s, "a", t0)
	pace := t0.Add(40 * time.Second) // later than a's expiry
	if err := a.Release(ctx, pace); err != nil {
		t.Fatal(err)
	}
	b := acquire(t, s, "b", t0.Add(time.Second)) // released: no wait for the expiry
	if !b.NotBefore().Equal(pace) {
		t.Errorf("after Release: NotBefore() = %v, want %v", b.NotBefore(), pace)
	}
	// b made no call: releasing with zero keeps the pause a asked for.
	if err := b.Release(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c := acquire(t, s, "c", t0.Add(2*time.Second))
	if !c.NotBefore().Equal(pace) {
		t.Errorf("after a zero Release: NotBefore() = %v, want %v kept", c.NotBefore(), pace)
	}
	// c dies with its lease expiring before the stored pause: d waits for the pause.
	if !c.Expires().Before(pace) {
		t.Fatalf("test setup: c's expiry %v is not before %v", c.Expires(), pace)
	}
	d := acquire(t, s, "d", pace.Add(time.Hour))
	if !d.NotBefore().Equal(pace) {
		t.Errorf("after an expiry before the pause: NotBefore() = %v, want %v", d.NotBefore(), pace)
	}
	// d dies too, its lease expiring after the pause: e waits for that expiry.
	e := acquire(t, s, "e", d.Expires())
	if !e.NotBefore().Equal(d.Expires()) {
		t.Errorf("after an expiry past the pause: NotBefore() = %v, want %v", e.NotBefore(), d.Expires())
	}
}

func TestSameHolderTakesOverItsOwnLease(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")
	first := acquire(t, s, "same", t0)
	second := acquire(t, s, "same", t0.Add(time.Second))
	if !second.NotBefore().Equal(first.Expires()) {
		t.Errorf("NotBefore() = %v, want the earlier lease's expiry %v", second.NotBefore(), first.Expires())
	}
	if err := first.Renew(ctx, t0.Add(2*time.Second)); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("earlier Lease's Renew: err = %v, want ErrLeaseLost", err)
	}
}

func TestSaveRefusesToMoveBackwards(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")
	l := acquire(t, s, "a", t0)
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 100, Skip: 3}}, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		st   checkpoint.State
		ok   bool
	}{
		{"earlier created", checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 99, Skip: 9}}, false},
		{"same created, smaller skip", checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 100, Skip: 2}}, false},
		{"negative skip", checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 200, Skip: -1}}, false},
		{"same cursor", checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 100, Skip: 3}, ScannedToMs: 50}, true},
		{"later created, skip 0", checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 101}}, true},
	}
	for _, tt := range tests {
		err := l.Save(ctx, tt.st, t0)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Save err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Errorf("%s: a refused Save reported ErrLeaseLost", tt.name)
		}
		if err != nil && !errors.Is(err, checkpoint.ErrRefused) {
			t.Errorf("%s: Save err = %v, want it to match ErrRefused", tt.name, err)
		}
	}
}

// A run that finds the API ordered a millisecond differently between calls
// reads it again from its first activity: a smaller skip at the same
// millisecond is no step back when the cursor keeps every id the saved one
// passed, since those ids tell what was sent.
func TestSaveAllowsReadingAMillisecondAgain(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")
	l := acquire(t, s, "a", t0)
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 100, Skip: 3, Seen: []string{"a", "b", "c"}}}, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    checkpoint.Cursor
		ok   bool
	}{
		{"an id of the saved cursor dropped", checkpoint.Cursor{CreatedMs: 100, Skip: 1, Seen: []string{"a", "b", "d"}}, false},
		{"every id kept, and more", checkpoint.Cursor{CreatedMs: 100, Skip: 1, Seen: []string{"a", "b", "c", "d"}}, true},
		{"from the start again", checkpoint.Cursor{CreatedMs: 100, Skip: 0, Seen: []string{"a", "b", "c", "d"}}, true},
	}
	for _, tt := range tests {
		if err := l.Save(ctx, checkpoint.State{Cursor: tt.c}, t0); (err == nil) != tt.ok {
			t.Errorf("%s: Save err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	// A saved cursor that passed more than it kept ids of (a tie longer
	// than MaxSeen) may be read again too, keeping the ids it kept.
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 200, Skip: 5, Seen: []string{"x"}}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 200, Skip: 1, Seen: []string{"y"}}}, t0); err == nil {
		t.Error("Save took a cursor back inside a millisecond, dropping an id it kept")
	}
	if err := l.Save(ctx, checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 200, Skip: 0, Seen: []string{"x", "y"}}}, t0); err != nil {
		t.Errorf("Save refused to read again a millisecond keeping every id: %v", err)
	}
}

// A tie longer than MaxSeen read again: the ids a save keeps are the last
// MaxSeen, so once the reading sends new ones the oldest of the saved
// cursor's ids fall off. That is the cap at work, not a step back; dropping
// any other id still is.
func TestSaveAllowsReadingAgainATieLongerThanItKeeps(t *testing.T) {
	ids := func(from, to int) []string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, fmt.Sprintf("act-%04d", i))
		}
		return s
	}
	tests := []struct {
		name string
		prev checkpoint.Cursor // saved first
		c    checkpoint.Cursor
		ok   bool
	}{
		{"whole, the oldest fall off for new ones", checkpoint.Cursor{CreatedMs: 100, Skip: 580, Seen: ids(0, 580)},
			checkpoint.Cursor{CreatedMs: 100, Skip: 16, Seen: ids(0, 616)}, true},
		{"passed more than it kept, new ones sent", checkpoint.Cursor{CreatedMs: 100, Skip: 600, Seen: ids(100, 600)},
			checkpoint.Cursor{CreatedMs: 100, Skip: 204, Seen: ids(100, 804)}, true},
		{"passed more than it kept, nothing new", checkpoint.Cursor{CreatedMs: 100, Skip: 600, Seen: ids(100, 600)},
			checkpoint.Cursor{CreatedMs: 100, Skip: 204, Seen: ids(100, 600)}, false},
		{"a kept id dropped, not the oldest", checkpoint.Cursor{CreatedMs: 100, Skip: 580, Seen: ids(0, 580)},
			checkpoint.Cursor{CreatedMs: 100, Skip: 16, Seen: append(append(ids(81, 300), ids(301, 580)...), ids(600, 602)...)}, false},
		{"more dropped than the cap needs", checkpoint.Cursor{CreatedMs: 100, Skip: 580, Seen: ids(0, 580)},
			checkpoint.Cursor{CreatedMs: 100, Skip: 16, Seen: ids(200, 601)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t, "tenant")
			l := acquire(t, s, "a", t0)
			if err := l.Save(ctx, checkpoint.State{Cursor: tt.prev}, t0); err != nil {
				t.Fatal(err)
			}
			if err := l.Save(ctx, checkpoint.State{Cursor: tt.c}, t0); (err == nil) != tt.ok {
				t.Errorf("Save err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestConcurrentAcquireHasOneWinner(t *testing.T) {
	for _, prior := range []string{"none", "released", "expired"} {
		t.Run(prior, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t, "tenant")
			now := t0
			switch prior {
			case "released":
				if err := acquire(t, s, "old", t0).Release(ctx, time.Time{}); err != nil {
					t.Fatal(err)
				}
			case "expired":
				now = acquire(t, s, "old", t0).Expires()
			}
			const n = 12
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				winners []string
				errs    []error
			)
			for i := range n {
				wg.Go(func() {
					holder := fmt.Sprintf("h%02d", i)
					_, err := s.Acquire(ctx, holder, now, ttl, checkpoint.State{})
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						winners = append(winners, holder)
					} else if !errors.Is(err, checkpoint.ErrBusy) {
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 || len(errs) != 0 {
				t.Fatalf("winners %v, other errors %v; want exactly one winner and only ErrBusy", winners, errs)
			}
			// The winner holds it: everyone else is still busy.
			var busy *checkpoint.BusyError
			if _, err := s.Acquire(ctx, "late", now, ttl, checkpoint.State{}); !errors.As(err, &busy) || busy.Holder != winners[0] {
				t.Errorf("late Acquire: err = %v, want busy with %s", err, winners[0])
			}
		})
	}
}

func TestHeartbeatAndSavesInterleave(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "tenant")
	l := acquire(t, s, "a", t0)
	const n = 15
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := l.Renew(ctx, t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Errorf("Renew %d: %v", i, err)
			}
			_ = l.Expires()
		}
	})
	for i := range n {
		st := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: int64(100 + i), Skip: 1, Seen: []string{fmt.Sprint(i)}}}
		if err := l.Save(ctx, st, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Errorf("Save %d: %v", i, err)
		}
	}
	wg.Wait()
	if err := l.Release(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := checkpoint.State{Cursor: checkpoint.Cursor{CreatedMs: 100 + n - 1, Skip: 1, Seen: []string{fmt.Sprint(n - 1)}}}
	if diff := cmp.Diff(want, acquire(t, s, "b", t0).State()); diff != "" {
		t.Errorf("State() (-want +got):\n%s", diff)
	}
}

func TestUndecodableEntityIsAnErrorNamingTheProperty(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t, "tenant")
	acquire(t, s, "a", t0)
	// Somebody writes a wrongly typed CursorSkip (a string).
	body := `{"PartitionKey":"mcas-sentinel","RowKey":"tenant","SchemaVersion":1,"CursorCreated":"5","CursorCreated@odata.type":"Edm.Int64",` +
		`"CursorSkip":"three","CursorSeen":"[]","ScannedTo":"0","ScannedTo@odata.type":"Edm.Int64","LeaseHolder":"",` +
		`"LeaseExpires":"0","LeaseExpires@odata.type":"Edm.Int64","NextCallNotBefore":"0","NextCallNotBefore@odata.type":"Edm.Int64","UpdatedAt":"2026-03-01T12:00:00Z"}`
	if _, err := c.UpsertEntity(ctx, []byte(body), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Acquire(ctx, "b", t0.Add(time.Hour), ttl, checkpoint.State{})
	var de *checkpoint.DecodeError
	if !errors.As(err, &de) || de.Property != "CursorSkip" {
		t.Fatalf("Acquire over a garbled entity: err = %v, want a DecodeError for CursorSkip", err)
	}
	if errors.Is(err, checkpoint.ErrBusy) || !strings.Contains(err.Error(), "CursorSkip") {
		t.Errorf("err = %v: want it to name CursorSkip and not be ErrBusy", err)
	}
}

func TestAcquireArguments(t *testing.T) {
	s, _ := newStore(t, "tenant")
	for name, call := range map[string]func() error{
		"no holder": func() error { _, err := s.Acquire(context.Background(), "", t0, ttl, checkpoint.State{}); return err },
		"zero ttl":  func() error { _, err := s.Acquire(context.Background(), "a", t0, 0, checkpoint.State{}); return err },
		"zero now": func() error {
			_, err := s.Acquire(context.Background(), "a", time.Time{}, ttl, checkpoint.State{})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: err = nil", name)
		}
	}
}

func TestNewStoreValidatesTheKey(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		key string
		ok  bool
	}{
		{"contoso.eu2.portal.cloudappsecurity.com", true},
		{"127.0.0.1:8443", true},
		{"", false},
		{"a/b", false},
		{`a\b`, false},
		{"a#b", false},
		{"a?b", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"\xff", false},
		{strings.Repeat("k", 512), true},
		{strings.Repeat("k", 513), false},
	}
	for _, tt := range tests {
		_, err := checkpoint.NewStore(c, tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("NewStore(%q): err = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
	if _, err := checkpoint.NewStore(nil, "k"); err == nil {
		t.Error("NewStore(nil client): err = nil")
	}
}
