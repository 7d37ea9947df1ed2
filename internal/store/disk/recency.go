package disk

import (
	"cmp"
	"container/list"
	"slices"
	"sync"
	"time"
)

// accessGranularity is how stale a key's stored access time may grow before
// a read marks it for rewriting: a key read all the time costs one meta
// write a minute, not one per read.
const accessGranularity = time.Minute

// recency orders the stored keys from most to least recently used, so that
// eviction takes the coldest first. It lives in memory and is rebuilt at
// Open from the access times in the meta records, which reads write back
// lazily (see touch and takeDirty).
//
// Its membership changes only after a write transaction commits, under
// Store.writeMu, so it follows the database in commit order; reads only
// reorder it.
type recency struct {
	mu    sync.Mutex               // guards order, byKey, dirty and every *recent in them
	order list.List                // of *recent, the most recently used in front
	byKey map[string]*list.Element // the elements of order by key
	// dirty holds the keys read since their stored access time was last
	// written, with the time of their latest read.
	dirty map[string]int64
}

// recent is one stored key.
type recent struct {
	key    string
	weight int64
	// access is when the key was last written or read, and stored when its
	// meta record last recorded, in Unix nanoseconds.
	access, stored int64
}

// item is a key and what recency needs to know about it at Open.
type item struct {
	key            string
	weight, access int64
}

func newRecency() *recency {
	return &recency{byKey: make(map[string]*list.Element), dirty: make(map[string]int64)}
}

// load fills an empty recency with items, ordered by their access times.
func (r *recency) load(items []item) {
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.access, b.access) })
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range items {
		r.byKey[it.key] = r.order.PushFront(&recent{key: it.key, weight: it.weight, access: it.access, stored: it.access})
	}
}

// add records that key was committed with weight at access, as the most
// recently used key.
func (r *recency) add(key string, weight, access int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dirty, key)
	if el, ok := r.byKey[key]; ok {
		*el.Value.(*recent) = recent{key: key, weight: weight, access: access, stored: access}
		r.order.MoveToFront(el)
		return
	}
	r.byKey[key] = r.order.PushFront(&recent{key: key, weight: weight, access: access, stored: access})
}

// remove forgets key.
func (r *recency) remove(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dirty, key)
	if el, ok := r.byKey[key]; ok {
		r.order.Remove(el)
		delete(r.byKey, key)
	}
}

// touch records a read of key at now. A key it does not know (removed while
// being read) stays unknown.
func (r *recency) touch(key string, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.byKey[key]
	if !ok {
		return
	}
	r.order.MoveToFront(el)
	k := el.Value.(*recent)
	k.access = max(k.access, now)
	if k.access-k.stored >= int64(accessGranularity) {
		r.dirty[key] = k.access
	}
}

// takeDirty returns the keys whose access times are due to be written, and
// counts them as written: if writing them fails, they are only hints lost.
func (r *recency) takeDirty() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dirty) == 0 {
		return nil
	}
	dirty := r.dirty
	r.dirty = make(map[string]int64)
	for key, access := range dirty {
		if el, ok := r.byKey[key]; ok {
			el.Value.(*recent).stored = access
		}
	}
	return dirty
}

// coldest returns the least recently used keys, skipping those in skip,
// whose weights add up to at least need (or all of them).
func (r *recency) coldest(need int64, skip map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for el := r.order.Back(); el != nil && need > 0; el = el.Prev() {
		k := el.Value.(*recent)
		if skip[k.key] {
			continue
		}
		keys = append(keys, k.key)
		need -= k.weight
	}
	return keys
}

// len returns the number of keys known.
func (r *recency) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey)
}
