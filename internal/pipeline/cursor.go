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
}

func newCursor(c checkpoint.Cursor) *cursor {
	cur := &cursor{created: c.CreatedMs, skip: c.Skip, seen: c.Seen[:len(c.Seen):len(c.Seen)], seenSet: make(map[string]struct{}, len(c.Seen))}
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
		if _, ok := c.seenSet[id]; ok {
			return true, nil
		}
	default:
		c.created, c.skip = created, 1
		// A fresh slice: snapshots taken earlier keep sharing the old one.
		c.seen = make([]string, 0, 8)
		clear(c.seenSet)
	}
	c.seen = append(c.seen, id)
	c.seenSet[id] = struct{}{}
	return false, nil
}

// snapshot returns the cursor as it is now; later advances do not change it.
func (c *cursor) snapshot() checkpoint.Cursor {
	return checkpoint.Cursor{CreatedMs: c.created, Skip: c.skip, Seen: c.seen[:len(c.seen):len(c.seen)]}
}
