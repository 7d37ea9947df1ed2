package proxy

import (
	"sync"
	"sync/atomic"
)

// pendingFetches lets an invalidation (a purge, an unsafe request) outdate
// exactly the origin fetches of its key that are under way, so that the
// response each brings back is not stored over the invalidation (RFC 9111
// §4.4), while fetches of every other key go on as they are.
//
// A fetch takes a ticket before its request leaves for the origin and
// gives it back when it has stored (or not) the response; the ticket says
// at Commit whether an invalidation of its key, or of every key, came in
// between. Only keys with a fetch under way are tracked.
type pendingFetches struct {
	mu   sync.Mutex
	keys map[string]*pendingKey // guarded by mu
	// all counts invalidations of every key at once (purges by prefix or
	// tag).
	all atomic.Uint64
}

type pendingKey struct {
	fetches int           // guarded by pendingFetches.mu
	gen     atomic.Uint64 // invalidations of the key while fetches > 0
}

// ticket is one fetch's view of its key's invalidations.
type ticket struct {
	p        *pendingFetches
	key      string
	pk       *pendingKey
	gen, all uint64
}

// begin starts tracking a fetch of key.
func (p *pendingFetches) begin(key string) *ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil {
		p.keys = make(map[string]*pendingKey)
	}
	pk := p.keys[key]
	if pk == nil {
		pk = &pendingKey{}
		p.keys[key] = pk
	}
	pk.fetches++
	return &ticket{p: p, key: key, pk: pk, gen: pk.gen.Load(), all: p.all.Load()}
}

// end stops tracking the fetch. It may be called more than once.
func (t *ticket) end() {
	if t.pk == nil {
		return
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.pk.fetches--; t.pk.fetches == 0 {
		delete(t.p.keys, t.key)
	}
	t.pk = nil
}

// outdated reports whether the fetch's key was invalidated since begin.
func (t *ticket) outdated() bool {
	pk := t.pk
	return pk == nil || pk.gen.Load() != t.gen || t.p.all.Load() != t.all
}

// invalidate outdates the fetches of key under way.
func (p *pendingFetches) invalidate(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pk := p.keys[key]; pk != nil {
		pk.gen.Add(1)
	}
}

// invalidateAll outdates every fetch under way.
func (p *pendingFetches) invalidateAll() { p.all.Add(1) }
