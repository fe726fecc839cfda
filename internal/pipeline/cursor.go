package pipeline

import (
	"fmt"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
)

// cursor tracks the position in the created-ascending stream while a page is
// consumed. See the package doc for its meaning.
type cursor struct {
	created int64
	skip    int
	seen    []string // ids at created, in the order consumed
	seenSet map[string]struct{}
	// whole: seen holds the id of every activity forwarded at created. It
	// is false only for a cursor loaded with more forwarded than the
	// checkpoint kept ids of (a tie of more than checkpoint.MaxSeen), until
	// it reads its millisecond again; unkept is how many those are.
	whole  bool
	unkept int
	// dups counts positions at created whose id was already sent, and
	// repeats those whose id came earlier in the same answer: the API
	// listing one activity twice, not a reordering. answer holds the ids
	// at created met in the current answer (see newAnswer).
	dups, repeats int
	answer        map[string]struct{}
	// rereads counts how often this run started created over.
	rereads int
}

func newCursor(c checkpoint.Cursor) *cursor {
	cur := &cursor{created: c.CreatedMs, skip: c.Skip, seen: c.Seen[:len(c.Seen):len(c.Seen)], seenSet: make(map[string]struct{}, len(c.Seen)), answer: map[string]struct{}{}, whole: c.Skip <= len(c.Seen), unkept: max(0, c.Skip-len(c.Seen))}
	for _, id := range c.Seen {
		cur.seenSet[id] = struct{}{}
	}
	return cur
}

// advance consumes the next activity in API order. It reports whether the
// activity was already sent (a duplicate to drop). An activity created before
// the cursor means the API ignored the requested order or window: an error,
// since going on could lose or repeat activities.
func (c *cursor) advance(id string, created int64) (dup bool, err error) {
	switch {
	case created < c.created:
		return false, fmt.Errorf("activity %s has created=%d, before the cursor %d: the API did not honour the created-ascending order", id, created, c.created)
	case created == c.created:
		c.skip++
		_, again := c.answer[id]
		c.answer[id] = struct{}{}
		if _, ok := c.seenSet[id]; ok {
			c.dups++
			if again {
				c.repeats++
			}
			return true, nil
		}
	default:
		c.created, c.skip = created, 1
		c.whole, c.unkept, c.dups, c.repeats, c.rereads = true, 0, 0, 0, 0
		// A fresh slice: snapshots taken earlier keep sharing the old one.
		c.seen = make([]string, 0, 8)
		clear(c.seenSet)
		clear(c.answer)
		c.answer[id] = struct{}{}
	}
	c.seen = append(c.seen, id)
	c.seenSet[id] = struct{}{}
	return false, nil
}

// newAnswer starts the next answer of the API: an id met again from here
// on is a position of its own, not a repeat.
func (c *cursor) newAnswer() { clear(c.answer) }

// missed returns how many activities created at the cursor's millisecond
// may have been passed over. The positions consumed there (skip) outnumber
// the ids forwarded only when an answer held an id that an earlier answer
// had at another position: the API ordered the millisecond differently
// between calls, so skip passed over activities never read. Once every
// position of the millisecond is consumed (the cursor is about to leave
// it), a count of ids equal to the positions proves that none was missed,
// whatever the orders were: the last answer's positions before its skip
// hold exactly the ids forwarded before it. Unknown (0) when not whole.
func (c *cursor) missed() int {
	if !c.whole {
		return 0
	}
	return max(0, c.skip-c.repeats-len(c.seen))
}

// reread starts the cursor's millisecond over: the next call asks for it
// from its first activity, and the ids kept tell the ones already sent.
// A cursor that was not whole sends again the unkept activities it meets;
// once it has passed every position, seen holds every id there, so it
// counts as whole from here.
func (c *cursor) reread() {
	c.skip, c.dups, c.repeats = 0, 0, 0
	c.whole, c.unkept = true, 0
	c.rereads++
}

// reordered reports whether a cursor that is not whole met an activity it
// had sent past its skip: the API ordered the millisecond differently from
// the calls that sent it, and some activity the skip passes over may never
// have been read, with no way to tell which.
func (c *cursor) reordered() bool { return !c.whole && c.dups > c.repeats }

// snapshot returns the cursor as it is now; later advances do not change it.
// A whole cursor never saves more positions than ids: a later run then
// reads the millisecond's positions it cannot vouch for again (the ids
// drop what was sent) and can still tell whether any was missed.
func (c *cursor) snapshot() checkpoint.Cursor {
	skip := c.skip
	if c.whole {
		skip = min(skip, len(c.seen))
	}
	return checkpoint.Cursor{CreatedMs: c.created, Skip: skip, Seen: c.seen[:len(c.seen):len(c.seen)]}
}
