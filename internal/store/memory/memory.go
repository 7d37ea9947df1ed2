// Package memory is a store.Store that keeps entries in the process's memory,
// bounded in bytes, with SIEVE eviction.
//
// A hit copies no body bytes until the caller reads them: committed entries
// are immutable and shared by every reader. The store bounds and expires
// entries by the sizes and times in store.Entry only; it must not interpret
// HTTP.
//
// # Layout
//
// A large cache is mostly what the garbage collector must mark on every
// cycle, so the store keeps little that it must follow. Each entry is one
// byte slice (the caller's Note, the key, the packed header, see
// packed.go, and the body) and a row in two arrays of its shard: one
// without pointers (the hash, times, sizes and eviction list) and one with
// the slice and the rarely set parts. Get returns views of these bytes,
// not copies (views.go).
// The index from a key's hash to its row is a map of integers, which the
// collector does not read. An entry is found by its hash and then checked
// against the key in its slice. A shard whose rows are mostly free (after
// a purge, say) is compacted. With otter, the concurrent
// W-TinyLFU cache used before, an entry was six objects, two of them full of
// pointers; a collection of 400,000 entries took a third as long this way
// (see bench/README.md).
//
// # Eviction
//
// Each shard keeps its entries in a list from oldest to newest, with a
// visited bit that Get sets, and evicts by SIEVE (Zhang et al., NSDI 2024):
// a hand walks from the oldest entry towards the newest, clears the bits it
// finds set and evicts the first entry whose bit is clear (or that has
// expired), then stays there for the next eviction. An entry read again
// since the hand last passed it stays, and stays where it is; one that was
// written and never read goes first. When the store is over MaxBytes, the
// writer that put it there evicts until it is not, one entry at a time
// from the heavier of the next two shards in turn, so that the shards stay
// alike.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

var _ store.Store = (*Store)(nil)

const (
	defaultMaxBytes      = 256 << 20
	defaultMaxObjectSize = 16 << 20
	// maxWeight is the largest weight one entry may have: an entry's key,
	// header and body lengths are kept as 32-bit numbers.
	maxWeight = math.MaxUint32

	// maxShardBits is log2 of the most shards a store has. Each has its
	// own lock, so Gets and Puts of different keys rarely wait for each
	// other. A store has one shard per shardBytes of MaxBytes, up to that:
	// each shard evicts on its own (see evict), which is closest to one
	// SIEVE over the whole store when every shard holds many entries.
	maxShardBits = 6
	shardBytes   = 4 << 20

	// sweepEvery is how often the background sweep runs, and sweepRounds
	// how many runs it takes to visit every shard: an expired entry's
	// memory is given back within sweepRounds seconds (Get hides it at
	// once).
	sweepEvery  = time.Second
	sweepRounds = 8
)

// Options configures a Store. The zero value is a 256 MiB store.
type Options struct {
	// MaxBytes bounds the memory the entries take, in bytes: their bodies,
	// keys and packed headers, an estimate of their metadata
	// (store.Entry.MetaSize) and of the header map a hot entry keeps. The
	// store's own rows and index, about 150 bytes an entry, are not
	// counted. Zero means 256 MiB.
	MaxBytes int64
	// MaxObjectSize is the largest body, in bytes, the store accepts: a
	// BodyWriter's Write past it fails with store.ErrTooLarge. It may not
	// exceed MaxBytes. Zero means 16 MiB, or MaxBytes if that is smaller.
	MaxObjectSize int64
	// Clock returns the current time, which Entry.Expires is compared with.
	// Nil means time.Now. Expired entries are hidden from Get at once, and
	// their memory is given back by eviction or by a sweep in the
	// background, which runs until Close.
	Clock func() time.Time

	// shardBits, when positive, sets log2 of the number of shards, for
	// tests of small stores with many shards.
	shardBits int
}

func (o *Options) setDefaults() {
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = min(defaultMaxObjectSize, o.MaxBytes)
	}
}

func (o *Options) validate() error {
	if o.MaxBytes < 0 {
		return fmt.Errorf("memory store: Options.MaxBytes %d is negative", o.MaxBytes)
	}
	if o.MaxObjectSize < 0 {
		return fmt.Errorf("memory store: Options.MaxObjectSize %d is negative", o.MaxObjectSize)
	}
	if o.MaxObjectSize > o.MaxBytes {
		return fmt.Errorf("memory store: Options.MaxObjectSize %d exceeds Options.MaxBytes %d",
			o.MaxObjectSize, o.MaxBytes)
	}
	if o.MaxObjectSize > maxWeight {
		return fmt.Errorf("memory store: Options.MaxObjectSize %d exceeds the largest object the store can hold (%d)",
			o.MaxObjectSize, int64(maxWeight))
	}
	return nil
}

// Store is a bounded in-memory store.Store. It is safe for concurrent use.
type Store struct {
	*core
}

// core is the store itself. The background sweep holds it, not the Store,
// so that a Store nobody closes can still be collected (and its sweep
// stopped, by the cleanup New attaches). The exported methods are the
// Store's own, not promoted from core, so that a method value such as
// s.Get keeps the Store reachable too.
type core struct {
	shards        []shard
	shift         uint // a hash's shard is hash >> shift
	seed          maphash.Seed
	now           func() time.Time
	maxBytes      int64
	maxObjectSize int64
	// maxWeight is the heaviest entry the store keeps: MaxBytes, or
	// maxWeight if that is less.
	maxWeight int64

	bytes     atomic.Int64  // the weight of the entries stored
	count     atomic.Int64  // how many entries are stored
	evictions atomic.Int64  // entries evicted to make room
	next      atomic.Uint32 // the shard the next eviction starts at

	stop     chan struct{}
	stopOnce sync.Once
}

// shard holds the entries whose key hashes to it. Row i of meta and of
// refs is one entry; rows whose entry was removed are kept on free and
// used again.
type shard struct {
	mu    sync.RWMutex
	index map[uint64]int32 // key hash -> row
	meta  []slot
	refs  []refs
	free  []int32
	// oldest and newest are the ends of the eviction list, hand is where
	// SIEVE's hand stands; -1 for none.
	oldest, newest, hand int32
	bytes                atomic.Int64 // the weight of the shard's entries
	_                    [64]byte     // keeps shards off each other's cache lines
}

// slot is the part of an entry that holds no pointers.
type slot struct {
	hash uint64
	// requestTime, responseTime and expires are Unix nanoseconds, or noTime
	// for the zero time.
	requestTime, responseTime, expires int64
	weight                             int64
	// The entry's bytes are its note (noteLen), its key (keyLen), its
	// packed header (headLen) and its body.
	noteLen, keyLen, headLen uint32
	status                   int32
	// visited is set by Get, under the shard's read lock (hence atomic),
	// and cleared by the eviction hand.
	visited uint32
	// older and newer link the shard's eviction list; -1 at its ends.
	older, newer int32
	used         bool
}

// refs is the part of an entry that the garbage collector follows.
type refs struct {
	bytes []byte
	// header is the unpacked header, from the entry's second Get on (see
	// unpacked).
	header atomic.Pointer[http.Header]
	extra  *extra // nil unless the entry has a Vary key, variants or tags
}

// extra holds what few entries have.
type extra struct {
	requestHeader  http.Header
	variants, tags []string
}

// noTime stands for the zero time.Time, which Unix nanoseconds cannot
// represent.
const noTime = math.MinInt64

// The times Unix nanoseconds can hold; later and earlier ones are clamped
// to them (an Expires past 2262 means "never" all the same).
var (
	latestNanos   = time.Unix(0, math.MaxInt64)
	earliestNanos = time.Unix(0, noTime+1)
)

func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return noTime
	case t.After(latestNanos):
		return math.MaxInt64
	case t.Before(earliestNanos):
		return noTime + 1
	}
	return t.UnixNano()
}

func timeOf(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// expiredAt reports whether an entry that expires at expires (Unix
// nanoseconds) has expired at now: Expired is true at Expires itself.
func expiredAt(expires, now int64) bool {
	return expires != noTime && now >= expires
}

// New returns an empty store configured by opts. It starts the background
// sweep of expired entries, which Close stops.
func New(opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &core{
		seed:          maphash.MakeSeed(),
		now:           opts.Clock,
		maxBytes:      opts.MaxBytes,
		maxObjectSize: opts.MaxObjectSize,
		maxWeight:     min(opts.MaxBytes, maxWeight),
		stop:          make(chan struct{}),
	}
	if c.now == nil {
		c.now = time.Now
	}
	bits := opts.shardBits
	for opts.shardBits == 0 && bits < maxShardBits && opts.MaxBytes>>bits >= 2*shardBytes {
		bits++
	}
	c.shards = make([]shard, 1<<bits)
	c.shift = uint(64 - bits) // 64 for one shard: every hash shifts to 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.index = make(map[uint64]int32)
		sh.oldest, sh.newest, sh.hand = -1, -1, -1
	}
	go c.sweepLoop()
	s := &Store{core: c}
	runtime.AddCleanup(s, (*core).halt, c)
	return s, nil
}

func (c *core) shardOf(hash uint64) *shard {
	return &c.shards[hash>>c.shift]
}

// Get returns the entry stored under key, or store.ErrNotFound if it is
// absent, evicted or expired. The body reader shares the stored bytes; it
// also implements io.WriterTo. The header's strings and the Note are views
// of those bytes too (views.go): what keeps one keeps the whole entry. No
// call waits for anything but a shard's lock, so ctx is not consulted.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	return s.get(key)
}

func (c *core) get(key string) (store.Entry, io.ReadCloser, error) {
	hash := maphash.String(c.seed, key)
	sh := c.shardOf(hash)
	sh.mu.RLock()
	i, ok := sh.index[hash]
	if !ok {
		sh.mu.RUnlock()
		return store.Entry{}, nil, store.ErrNotFound
	}
	m, r := &sh.meta[i], &sh.refs[i]
	// The clock is read only for an entry that can expire.
	if sh.keyOf(i) != key || (m.expires != noTime && expiredAt(m.expires, c.now().UnixNano())) {
		sh.mu.RUnlock()
		return store.Entry{}, nil, store.ErrNotFound
	}
	if atomic.LoadUint32(&m.visited) == 0 {
		atomic.StoreUint32(&m.visited, 1)
	}
	headAt := m.noteLen + m.keyLen
	bodyAt := headAt + m.headLen
	e := store.Entry{
		Status:       int(m.status),
		Header:       r.unpacked(r.bytes[headAt:bodyAt]),
		RequestTime:  timeOf(m.requestTime),
		ResponseTime: timeOf(m.responseTime),
		Expires:      timeOf(m.expires),
		Size:         int64(len(r.bytes)) - int64(bodyAt),
		Note:         view(r.bytes[:m.noteLen]),
	}
	if x := r.extra; x != nil {
		e.RequestHeader, e.Variants, e.Tags = x.requestHeader, x.variants, x.tags
	}
	body := r.bytes[bodyAt:]
	sh.mu.RUnlock()
	return e, store.NewBody(body), nil
}

// Put starts writing an entry under key. It copies e's maps and slices, so
// the caller may reuse e. No call waits, so ctx is not consulted.
func (s *Store) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	return s.put(key, e), nil
}

func (c *core) put(key string, e store.Entry) *bodyWriter {
	w := &bodyWriter{c: c, key: key, entry: cloneEntry(e)}
	n, values := packedLen(e.Header)
	w.unpacked = unpackedSize(len(e.Header), values)
	hint := 0
	if e.Size > 0 && e.Size <= c.maxObjectSize {
		hint = int(e.Size) // the expected length: no regrowth
	}
	w.noteLen = len(e.Note)
	w.bytes = make([]byte, 0, w.noteLen+len(key)+n+hint)
	w.bytes = append(w.bytes, e.Note...)
	w.bytes = append(w.bytes, key...)
	w.bytes = appendPacked(w.bytes, e.Header)
	w.bodyAt = len(w.bytes)
	return w
}

// Delete removes the entry under key. Readers that already got its body
// still read it whole.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.delete(key)
	return nil
}

func (c *core) delete(key string) {
	hash := maphash.String(c.seed, key)
	sh := c.shardOf(hash)
	sh.mu.Lock()
	if i, ok := sh.index[hash]; ok && sh.keyOf(i) == key {
		sh.remove(c, i)
		sh.maybeCompact()
	}
	sh.mu.Unlock()
}

// Len returns the number of entries stored, counting expired ones that
// have not been dropped yet.
func (s *Store) Len() int {
	return int(s.count.Load())
}

// Bytes returns the weight of the entries stored, as bounded by
// Options.MaxBytes. It may exceed the bound for a moment after a write,
// until that write has evicted.
func (s *Store) Bytes() int64 {
	return s.bytes.Load()
}

// Stats reports the store's size and evictions (store.StatsReporter).
func (s *Store) Stats() store.Stats {
	return store.Stats{Entries: s.count.Load(), Bytes: s.bytes.Load(), MaxBytes: s.maxBytes, Evictions: s.evictions.Load()}
}

// Close stops the background sweep of expired entries. The store stays
// usable; without Close, the sweep stops once the store is unreachable.
func (s *Store) Close() error {
	s.halt()
	return nil
}

func (c *core) halt() {
	c.stopOnce.Do(func() { close(c.stop) })
}

// cloneEntry copies what the caller could change after Put. It also strips
// monotonic clock readings, so that ages computed from a memory hit are
// those a disk or Redis hit would give.
// The header is left out: Put packs it, which copies it too.
func cloneEntry(e store.Entry) store.Entry {
	e.Header, e.Note = nil, "" // Put copies both into the entry's bytes
	e.RequestHeader = e.RequestHeader.Clone()
	e.Variants = slices.Clone(e.Variants)
	// Tags may be substrings of a larger string (another entry's header):
	// copies keep only themselves alive.
	e.Tags = slices.Clone(e.Tags)
	for i, t := range e.Tags {
		e.Tags[i] = strings.Clone(t)
	}
	e.RequestTime = e.RequestTime.Round(0)
	e.ResponseTime = e.ResponseTime.Round(0)
	e.Expires = e.Expires.Round(0)
	e.Size = 0
	return e
}

var (
	errCommitted = errors.New("already committed")
	errAborted   = errors.New("aborted")
)

// bodyWriter gathers an entry's bytes until Commit: its note, key and
// packed header, written by Put, then the body. It is not safe for
// concurrent use.
type bodyWriter struct {
	c        *core
	key      string
	noteLen  int         // the length of the note the bytes start with
	unpacked int64       // what the header takes unpacked (an estimate)
	entry    store.Entry // without its header
	bytes    []byte
	bodyAt   int // where the body starts in bytes
	// ended is why the writer takes no more writes: errCommitted, errAborted
	// or a wrapped store.ErrTooLarge. Nil while it is open.
	ended error
}

// Write appends p to the body. Past MaxObjectSize it aborts the writer and
// returns an error wrapping store.ErrTooLarge.
func (w *bodyWriter) Write(p []byte) (int, error) {
	if w.ended != nil {
		return 0, fmt.Errorf("memory store: write %s: %w", w.key, w.ended)
	}
	if int64(len(w.bytes)-w.bodyAt)+int64(len(p)) > w.c.maxObjectSize {
		w.end(fmt.Errorf("body exceeds %d bytes: %w", w.c.maxObjectSize, store.ErrTooLarge))
		return 0, fmt.Errorf("memory store: write %s: %w", w.key, w.ended)
	}
	w.bytes = append(w.bytes, p...)
	return len(p), nil
}

// Commit makes the entry visible to Get, replacing any older one. An entry
// already expired is not stored, and the older one is removed all the same.
// An entry heavier than the store can hold is not stored either, and Commit
// returns an error wrapping store.ErrTooLarge.
func (w *bodyWriter) Commit() error {
	if w.ended != nil {
		return fmt.Errorf("memory store: commit %s: %w", w.key, w.ended)
	}
	b := w.bytes
	// append leaves up to a quarter of a large buffer unused, which the
	// weight would not count: copy to a snug slice if that wastes more
	// than an eighth.
	if cap(b)-len(b) > len(b)/8 {
		b = slices.Clip(slices.Clone(b))
	}
	w.entry.Size = int64(len(b) - w.bodyAt)
	weight := int64(len(b)) + w.unpacked + w.entry.MetaSize()
	if weight > w.c.maxWeight {
		w.end(fmt.Errorf("entry weighs %d bytes, more than the store holds (%d): %w",
			weight, w.c.maxWeight, store.ErrTooLarge))
		return fmt.Errorf("memory store: commit %s: %w", w.key, w.ended)
	}
	m := slot{
		noteLen:      uint32(w.noteLen),
		keyLen:       uint32(len(w.key)),
		headLen:      uint32(w.bodyAt - w.noteLen - len(w.key)),
		requestTime:  nanos(w.entry.RequestTime),
		responseTime: nanos(w.entry.ResponseTime),
		expires:      nanos(w.entry.Expires),
		status:       int32(w.entry.Status),
		weight:       weight,
	}
	var x *extra
	if w.entry.RequestHeader != nil || len(w.entry.Variants) > 0 || len(w.entry.Tags) > 0 {
		x = &extra{requestHeader: w.entry.RequestHeader, variants: w.entry.Variants, tags: w.entry.Tags}
	}
	expired := w.entry.Expired(w.c.now())
	w.end(errCommitted)
	w.c.insert(w.key, m, b, x, expired)
	return nil
}

// Abort discards the body. After Commit, or a second time, it does nothing.
func (w *bodyWriter) Abort() {
	if w.ended == nil {
		w.end(errAborted)
	}
}

func (w *bodyWriter) end(why error) {
	w.ended = why
	w.bytes, w.unpacked = nil, 0
	w.entry = store.Entry{}
}

// insert stores an entry under key, replacing the one there; an expired
// entry only removes it. It then evicts while the store is over MaxBytes.
func (c *core) insert(key string, m slot, b []byte, x *extra, expired bool) {
	m.hash = maphash.String(c.seed, key)
	sh := c.shardOf(m.hash)
	sh.mu.Lock()
	// The entry under the same hash goes: it has the same key or, once in
	// 2^64, another one, which a bounded store may drop as well.
	if i, ok := sh.index[m.hash]; ok {
		sh.remove(c, i)
	}
	if expired {
		sh.mu.Unlock()
		return
	}
	i := sh.alloc()
	m.used = true
	sh.meta[i] = m
	r := &sh.refs[i]
	r.bytes, r.extra = b, x
	sh.index[m.hash] = i
	sh.pushNewest(i)
	sh.bytes.Add(m.weight)
	sh.mu.Unlock()
	c.count.Add(1)
	if c.bytes.Add(m.weight) > c.maxBytes {
		c.evict(sh, i)
	}
}

// evict removes entries until the store is within MaxBytes, one at a time
// from the heavier of the next two shards in turn. It spares the entry in
// row keep of shard kept, which the caller has just stored: an entry
// nearly as heavy as the store would otherwise evict itself once its own
// shard had nothing else left. An entry is never heavier than MaxBytes,
// so the store is within it before only kept entries are left.
func (c *core) evict(kept *shard, keep int32) {
	n := uint32(len(c.shards))
	for c.bytes.Load() > c.maxBytes && c.count.Load() > 0 {
		at := c.next.Add(2)
		sh, other := &c.shards[at%n], &c.shards[(at+1)%n]
		if other.bytes.Load() > sh.bytes.Load() {
			sh, other = other, sh
		}
		if !sh.evict(c, kept, keep) {
			other.evict(c, kept, keep)
		}
	}
}

// evict evicts one entry of sh, sparing row keep of shard kept, and
// reports whether it found one.
func (sh *shard) evict(c *core, kept *shard, keep int32) bool {
	spare := int32(-1)
	if sh == kept {
		spare = keep
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.evictOne(c, c.now().UnixNano(), spare) {
		return false
	}
	c.evictions.Add(1)
	sh.maybeCompact()
	return true
}

// sweepLoop drops expired entries, a few shards at a time, until halt.
func (c *core) sweepLoop() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	next := 0
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		for range max(1, len(c.shards)/sweepRounds) {
			c.shards[next].dropExpired(c, c.now().UnixNano())
			next = (next + 1) % len(c.shards)
		}
	}
}

func (sh *shard) dropExpired(c *core, now int64) {
	sh.removeWhere(c, func(i int32) bool { return expiredAt(sh.meta[i].expires, now) })
}

// removeWhere removes the shard's entries for which match is true, and
// returns how many it removed.
func (sh *shard) removeWhere(c *core, match func(i int32) bool) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for i := range sh.meta {
		if sh.meta[i].used && match(int32(i)) {
			sh.remove(c, int32(i))
			n++
		}
	}
	sh.maybeCompact()
	return n
}

// keyOf returns the key of the entry in row i.
func (sh *shard) keyOf(i int32) string {
	m := &sh.meta[i]
	return string(sh.refs[i].bytes[m.noteLen : m.noteLen+m.keyLen])
}

// alloc returns a free row, growing the arrays if none is.
func (sh *shard) alloc() int32 {
	if n := len(sh.free); n > 0 {
		i := sh.free[n-1]
		sh.free = sh.free[:n-1]
		return i
	}
	sh.meta = append(sh.meta, slot{})
	sh.refs = append(sh.refs, refs{})
	return int32(len(sh.meta) - 1)
}

// remove drops the entry in row i and frees the row.
func (sh *shard) remove(c *core, i int32) {
	m := &sh.meta[i]
	delete(sh.index, m.hash)
	sh.unlink(i)
	c.count.Add(-1)
	c.bytes.Add(-m.weight)
	sh.bytes.Add(-m.weight)
	*m = slot{}
	r := &sh.refs[i]
	r.bytes, r.extra = nil, nil
	r.header.Store(nil)
	sh.free = append(sh.free, i)
}

// compactFrom is the fewest free rows a shard compacts: below it, the free
// rows cost less than the copy.
const compactFrom = 1024

// maybeCompact compacts the shard when more than half its rows are free,
// so that a store that once held many more entries than now does not keep
// their rows (nor the collector scan them). The rows move, so it must not
// run while a caller iterates over them.
func (sh *shard) maybeCompact() {
	if len(sh.free) < compactFrom || len(sh.free) <= len(sh.meta)/2 {
		return
	}
	used := len(sh.meta) - len(sh.free)
	at := make([]int32, len(sh.meta)) // old row -> new row, -1 when free
	meta := make([]slot, 0, used+used/4)
	rows := make([]refs, used, used+used/4)
	index := make(map[uint64]int32, used)
	for i := range sh.meta {
		m := &sh.meta[i]
		if !m.used {
			at[i] = -1
			continue
		}
		n := int32(len(meta))
		at[i] = n
		meta = append(meta, *m)
		r, nr := &sh.refs[i], &rows[n]
		nr.bytes, nr.extra = r.bytes, r.extra
		nr.header.Store(r.header.Load())
		index[m.hash] = n
	}
	moved := func(i int32) int32 {
		if i < 0 {
			return -1
		}
		return at[i]
	}
	for i := range meta {
		meta[i].older, meta[i].newer = moved(meta[i].older), moved(meta[i].newer)
	}
	sh.oldest, sh.newest, sh.hand = moved(sh.oldest), moved(sh.newest), moved(sh.hand)
	sh.meta, sh.refs, sh.index, sh.free = meta, rows, index, nil
}

func (sh *shard) pushNewest(i int32) {
	m := &sh.meta[i]
	m.older, m.newer = sh.newest, -1
	if sh.newest >= 0 {
		sh.meta[sh.newest].newer = i
	} else {
		sh.oldest = i
	}
	sh.newest = i
}

func (sh *shard) unlink(i int32) {
	m := &sh.meta[i]
	if sh.hand == i {
		sh.hand = m.newer
	}
	if m.older >= 0 {
		sh.meta[m.older].newer = m.newer
	} else {
		sh.oldest = m.newer
	}
	if m.newer >= 0 {
		sh.meta[m.newer].older = m.older
	} else {
		sh.newest = m.older
	}
}

// evictOne moves SIEVE's hand to the first entry, from where it stands
// towards the newest and then again from the oldest, that was not visited
// since the hand last passed or that has expired, and removes it. It
// clears the visited bits it passes, so it stops within one round. It
// passes over row spare (-1 for none). It reports whether it removed an
// entry: false when the shard is empty or holds spare alone.
func (sh *shard) evictOne(c *core, now int64, spare int32) bool {
	i := sh.hand
	for passed := 0; ; {
		if i < 0 {
			if i = sh.oldest; i < 0 {
				return false // empty
			}
		}
		m := &sh.meta[i]
		if i == spare {
			if passed++; passed > 2 {
				return false // spare is alone
			}
			i = m.newer
			continue
		}
		if atomic.LoadUint32(&m.visited) != 0 && !expiredAt(m.expires, now) {
			atomic.StoreUint32(&m.visited, 0)
			i = m.newer
			continue
		}
		sh.hand = m.newer
		sh.remove(c, i)
		return true
	}
}
