// Package memory is a store.Store that keeps entries in the process's memory,
// bounded in bytes, with W-TinyLFU eviction from github.com/maypok86/otter/v2.
//
// A hit copies no body bytes until the caller reads them: committed entries
// are immutable and shared by every reader. The store bounds and expires
// entries by the sizes and times in store.Entry only; it must not interpret
// HTTP.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard/internal/store"
)

var _ store.Store = (*Store)(nil)

const (
	defaultMaxBytes      = 256 << 20
	defaultMaxObjectSize = 16 << 20
	// maxWeight is the largest weight otter can account for one entry: its
	// Weigher returns a uint32.
	maxWeight = math.MaxUint32
)

// Options configures a Store. The zero value is a 256 MiB store.
type Options struct {
	// MaxBytes bounds the memory the entries take, in bytes: their bodies,
	// an estimate of their metadata (store.Entry.MetaSize) and their keys.
	// Zero means 256 MiB.
	MaxBytes int64
	// MaxObjectSize is the largest body, in bytes, the store accepts: a
	// BodyWriter's Write past it fails with store.ErrTooLarge. It may not
	// exceed MaxBytes. Zero means 16 MiB, or MaxBytes if that is smaller.
	MaxObjectSize int64
	// Clock returns the current time, which Entry.Expires is compared with.
	// Nil means time.Now. With nil, expired entries are also dropped in the
	// background once a second until Close; with a Clock set, only during
	// reads and writes, since a test's fake clock has no ticks.
	Clock func() time.Time
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
	cache         *otter.Cache[string, *stored]
	clock         func() time.Time
	maxObjectSize int64
	// maxWeight is the heaviest entry the store keeps: MaxBytes, or what
	// otter can account if that is less.
	maxWeight int64
}

// stored is one committed entry. Nothing modifies it after Commit, so every
// reader shares it without locks.
//
// It holds a store.Entry's fields in less room than the Entry itself (the
// header packed, see packed.go; the times as Unix nanoseconds; the rarely
// set slices behind one pointer), since a cache of small objects keeps
// millions: 112 bytes and a packed header instead of about 200 and a map,
// and far fewer pointers for the garbage collector to follow.
type stored struct {
	packed string                      // the header, packed
	header atomic.Pointer[http.Header] // the header unpacked, from the first Get on
	// requestHeader is the secondary key's fields, kept as they are: only
	// entries with Vary have them, and every lookup of a variant reads them.
	requestHeader http.Header
	lists         *lists // nil when the entry has neither variants nor tags
	memo          any
	body          []byte
	// requestTime, responseTime and expires are Unix nanoseconds, or noTime
	// for the zero time.
	requestTime, responseTime, expires int64
	status                             int32
	weight                             uint32
}

// lists holds an entry's Variants and Tags.
type lists struct {
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

// newStored keeps e, which the store owns from now on, with its packed
// header and its body.
func newStored(e store.Entry, packed string, body []byte) *stored {
	v := &stored{
		packed:        packed,
		requestHeader: e.RequestHeader,
		memo:          e.Memo,
		body:          body,
		requestTime:   nanos(e.RequestTime),
		responseTime:  nanos(e.ResponseTime),
		expires:       nanos(e.Expires),
		status:        int32(e.Status),
	}
	if len(e.Variants) > 0 || len(e.Tags) > 0 {
		v.lists = &lists{variants: e.Variants, tags: e.Tags}
	}
	return v
}

// entry unpacks the stored entry. The maps and slices are shared, not
// copied: callers must not modify them (store.Store says so).
func (v *stored) entry() store.Entry {
	e := store.Entry{
		Status:        int(v.status),
		Header:        v.unpacked(),
		RequestHeader: v.requestHeader,
		RequestTime:   timeOf(v.requestTime),
		ResponseTime:  timeOf(v.responseTime),
		Expires:       timeOf(v.expires),
		Size:          int64(len(v.body)),
		Memo:          v.memo,
	}
	if v.lists != nil {
		e.Variants, e.Tags = v.lists.variants, v.lists.tags
	}
	return e
}

// New returns an empty store configured by opts.
func New(opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		clock:         opts.Clock,
		maxObjectSize: opts.MaxObjectSize,
		maxWeight:     min(opts.MaxBytes, maxWeight),
	}
	oo := &otter.Options[string, *stored]{
		MaximumWeight: uint64(opts.MaxBytes),
		Weigher:       func(_ string, v *stored) uint32 { return v.weight },
		// The deadline is set on every write and never moved by a read, so
		// a read does not run the calculator.
		ExpiryCalculator: otter.ExpiryWritingFunc(timeLeft),
		// Logger is left to otter's default, slog.Default: otter logs only
		// panics of our weigher and calculator, which would be bugs.
	}
	if opts.Clock != nil {
		oo.Clock = otterClock(opts.Clock)
	} else {
		s.clock = time.Now
	}
	cache, err := otter.New(oo)
	if err != nil {
		return nil, fmt.Errorf("memory store: %w", err)
	}
	s.cache = cache
	return s, nil
}

// Get returns the entry stored under key, or store.ErrNotFound if it is
// absent, evicted or expired. The body reader shares the stored bytes; it
// also implements io.WriterTo. No call blocks, so ctx is not consulted.
//
// Otter hides an entry from the instant of its Entry.Expires on (see
// timeLeft) and removes it in its maintenance, so Get reads no clock of its
// own. Otter's clock is Options.Clock or, when that is nil, the real time.
func (s *Store) Get(_ context.Context, key string) (store.Entry, io.ReadCloser, error) {
	v, ok := s.cache.GetIfPresent(key)
	if !ok {
		return store.Entry{}, nil, store.ErrNotFound
	}
	return v.entry(), store.NewBody(v.body), nil
}

// Put starts writing an entry under key. It copies e's maps and slices, so
// the caller may reuse e. No call blocks, so ctx is not consulted.
func (s *Store) Put(_ context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	w := &bodyWriter{s: s, key: strings.Clone(key), entry: cloneEntry(e)}
	w.packed, w.unpacked = packHeader(e.Header)
	if e.Size > 0 && e.Size <= s.maxObjectSize {
		w.body = make([]byte, 0, e.Size) // the expected length: no regrowth
	}
	return w, nil
}

// Delete removes the entry under key. Readers that already got its body
// still read it whole.
func (s *Store) Delete(_ context.Context, key string) error {
	s.cache.Invalidate(key)
	return nil
}

// Len returns the approximate number of entries stored.
func (s *Store) Len() int {
	return s.cache.EstimatedSize()
}

// Bytes returns the approximate weight of the entries stored, as bounded by
// Options.MaxBytes. It may exceed the bound for a moment after a write,
// until otter's maintenance evicts.
func (s *Store) Bytes() int64 {
	return int64(s.cache.WeightedSize())
}

// Close stops the goroutine that drops expired entries in the background.
// The store stays usable; without Close, the goroutine stops by itself
// within a second of the store becoming unreachable.
func (s *Store) Close() error {
	s.cache.StopAllGoroutines()
	return nil
}

// cloneEntry copies what the caller could change after Put. It also strips
// monotonic clock readings, so that ages computed from a memory hit are
// those a disk or Redis hit would give.
// The header is left out: Put packs it, which copies it too.
func cloneEntry(e store.Entry) store.Entry {
	e.Header = nil
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

// bodyWriter buffers a body until Commit. It is not safe for concurrent use.
type bodyWriter struct {
	s        *Store
	key      string
	packed   string      // the header, packed
	unpacked int64       // what the header takes unpacked (an estimate)
	entry    store.Entry // without its header
	body     []byte
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
	if int64(len(w.body))+int64(len(p)) > w.s.maxObjectSize {
		w.end(fmt.Errorf("body exceeds %d bytes: %w", w.s.maxObjectSize, store.ErrTooLarge))
		return 0, fmt.Errorf("memory store: write %s: %w", w.key, w.ended)
	}
	w.body = append(w.body, p...)
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
	body := w.body
	// append leaves up to a quarter of a large buffer unused, which the
	// weight would not count: copy the body to a snug one if that wastes
	// more than an eighth.
	if cap(body)-len(body) > len(body)/8 {
		body = bytes.Clone(body)
	}
	w.entry.Size = int64(len(body))
	weight := int64(len(w.key)) + int64(len(w.packed)) + w.unpacked + w.entry.MetaSize() + w.entry.Size
	if weight > w.s.maxWeight {
		w.end(fmt.Errorf("entry weighs %d bytes, more than the store holds (%d): %w",
			weight, w.s.maxWeight, store.ErrTooLarge))
		return fmt.Errorf("memory store: commit %s: %w", w.key, w.ended)
	}
	v := newStored(w.entry, w.packed, body)
	v.weight = uint32(weight)
	expired := w.entry.Expired(w.s.clock())
	w.end(errCommitted)

	if expired {
		w.s.cache.Invalidate(w.key)
		return nil
	}
	w.s.cache.Set(w.key, v)
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
	w.body, w.packed, w.unpacked = nil, "", 0
	w.entry = store.Entry{}
}

// readOnce is what stored.header holds once the entry has been read once:
// its header was unpacked for that read and not kept.
var readOnce = new(http.Header)

// unpacked returns the entry's header: unpacked anew for the first read,
// and unpacked and kept from the second on. Concurrent reads may each
// unpack it; once one has been kept, every read returns that one.
func (v *stored) unpacked() http.Header {
	p := v.header.Load()
	if p != nil && p != readOnce {
		return *p
	}
	h := unpackHeader(v.packed)
	if h == nil {
		return nil
	}
	if p == nil && v.header.CompareAndSwap(nil, readOnce) {
		return h // the first read
	}
	if v.header.CompareAndSwap(readOnce, &h) {
		return h
	}
	if p := v.header.Load(); p != readOnce {
		return *p // another read kept its map first
	}
	return h
}

// timeLeft is the time from otter's now to the entry's Expires, so that
// otter's deadline is Expires itself. Otter reads a non-positive duration as
// "keep the deadline", so an entry that expires as it is written gets a
// nanosecond (Commit does not store those anyway).
func timeLeft(e otter.Entry[string, *stored]) time.Duration {
	expires := e.Value.expires
	if expires == noTime {
		return math.MaxInt64
	}
	if expires <= e.SnapshotAtNano {
		return 1
	}
	return time.Duration(expires - e.SnapshotAtNano)
}

// otterClock lets otter time expiry by Options.Clock.
type otterClock func() time.Time

func (c otterClock) NowNano() int64 {
	return c().UnixNano()
}

// Tick returns no ticks: a clock that a test moves by hand has none, so
// otter drops expired entries only during reads and writes.
func (c otterClock) Tick(time.Duration) <-chan time.Time {
	return nil
}
