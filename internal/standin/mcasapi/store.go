package mcasapi

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// store keeps the activities ordered by (created, tie, id), so a created
// range is found by binary search. Adding appends; the unsorted tail is
// sorted and merged in by the next query, so bulk and out-of-order adds stay
// cheap.
type store struct {
	mu     sync.Mutex
	acts   []Activity
	sorted int // acts[:sorted] is in order
}

func byCreated(a, b *Activity) int {
	if c := cmp.Compare(a.Created, b.Created); c != 0 {
		return c
	}
	if c := cmp.Compare(a.tie, b.tie); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func byDate(a, b *Activity) int {
	if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.tie, b.tie); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (st *store) add(as []Activity) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.acts = append(st.acts, as...)
}

func (st *store) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.acts)
}

// ensureSorted sorts the tail and merges it in place from the back, so the
// only extra memory is a copy of the tail. st.mu is held.
func (st *store) ensureSorted() {
	n := len(st.acts)
	if st.sorted == n {
		return
	}
	cmpp := func(a, b Activity) int { return byCreated(&a, &b) }
	tail := st.acts[st.sorted:]
	slices.SortFunc(tail, cmpp)
	if st.sorted == 0 || byCreated(&st.acts[st.sorted-1], &tail[0]) <= 0 {
		st.sorted = n
		return
	}
	tmp := slices.Clone(tail)
	i, j, k := st.sorted-1, len(tmp)-1, n-1
	for j >= 0 {
		if i >= 0 && byCreated(&st.acts[i], &tmp[j]) > 0 {
			st.acts[k] = st.acts[i]
			i--
		} else {
			st.acts[k] = tmp[j]
			j--
		}
		k--
	}
	st.sorted = n
}

// all returns a copy of every activity in created order.
func (st *store) all() []Activity {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ensureSorted()
	return slices.Clone(st.acts)
}

// find returns the activity with id if it is visible at now.
func (st *store) find(id string, now time.Time) (Activity, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range st.acts {
		if a := &st.acts[i]; a.ID == id && a.visible(now) {
			return *a, true
		}
	}
	return Activity{}, false
}

// result is one page of a list query.
type result struct {
	page    []Activity
	matched int   // every visible activity the filters match
	hasNext bool  // more records after this page
	nextLTE int64 // scan mode: the date.lte of the next query, when hasNext
}

// query runs a validated request at now.
func (st *store) query(q *query, now time.Time) result {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ensureSorted()
	acts := st.acts
	lo := sort.Search(len(acts), func(i int) bool { return acts[i].Created >= q.createdLo })
	hi := sort.Search(len(acts), func(i int) bool { return acts[i].Created > q.createdHi })
	match := func(a *Activity) bool {
		if !a.visible(now) {
			return false
		}
		for _, p := range q.preds {
			if !p(a) {
				return false
			}
		}
		return true
	}

	if !q.scan && q.sortField == sortCreated && q.reorder == 0 {
		// Already in order: count every match, keep the page's.
		var r result
		take := func(a *Activity) {
			if !match(a) {
				return
			}
			if r.matched >= q.skip && len(r.page) < q.limit {
				r.page = append(r.page, *a)
			}
			r.matched++
		}
		if q.desc {
			for i := hi - 1; i >= lo; i-- {
				take(&acts[i])
			}
		} else {
			for i := lo; i < hi; i++ {
				take(&acts[i])
			}
		}
		r.hasNext = q.skip+len(r.page) < r.matched
		return r
	}

	var idx []int32
	for i := lo; i < hi; i++ {
		if match(&acts[i]) {
			idx = append(idx, int32(i))
		}
	}
	desc := q.desc || q.scan // scan mode walks date downwards
	by, key := byDate, getDate
	if !q.scan && q.sortField == sortCreated {
		by, key = byCreated, getCreated
	}
	slices.SortFunc(idx, func(x, y int32) int {
		if desc {
			x, y = y, x
		}
		return by(&acts[x], &acts[y])
	})
	if q.reorder != 0 {
		// This call's own order among equal keys.
		for a := 0; a < len(idx); {
			b := a + 1
			for b < len(idx) && key(&acts[idx[b]]) == key(&acts[idx[a]]) {
				b++
			}
			slices.SortFunc(idx[a:b], func(x, y int32) int {
				return cmp.Compare(mix64(acts[x].tie^q.reorder), mix64(acts[y].tie^q.reorder))
			})
			a = b
		}
	}
	r := result{matched: len(idx)}
	if !q.scan {
		from := min(q.skip, len(idx))
		to := min(from+q.limit, len(idx))
		for _, i := range idx[from:to] {
			r.page = append(r.page, acts[i])
		}
		r.hasNext = to < len(idx)
		return r
	}

	// Scan mode (reference §2.3): when more remain, the trailing records that
	// share the last record's date are dropped and the next query asks for
	// date <= that date, so they come next and nothing is listed twice.
	n := min(q.limit, len(idx))
	if n < len(idx) {
		last := acts[idx[n-1]].Timestamp
		cut := n
		for cut > 0 && acts[idx[cut-1]].Timestamp == last {
			cut--
		}
		if cut == 0 {
			// Deviation: the whole page shares one date, so dropping it would
			// loop forever. Every record of that date is returned, past the
			// limit, and the next query starts just below it.
			for n < len(idx) && acts[idx[n]].Timestamp == last {
				n++
			}
			r.nextLTE = last - 1
		} else {
			n = cut
			r.nextLTE = last
		}
		r.hasNext = n < len(idx)
	}
	for _, i := range idx[:n] {
		r.page = append(r.page, acts[i])
	}
	return r
}
