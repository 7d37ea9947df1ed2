// Package store defines where Hoard keeps cached responses: one small
// interface for entries (metadata plus a streamed body) that the memory, disk
// and Redis backends implement.
//
// A store moves bytes and never interprets them: it knows nothing about HTTP
// caching rules. Whether a response may be stored, for how long it is fresh
// and which stored variant answers a request are decided by the caller
// (package httpcache, composed by package proxy).
package store

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// ErrNotFound is returned by Get when nothing is stored under the key.
var ErrNotFound = errors.New("store: not found")

// ErrTooLarge is returned by a BodyWriter's Write when the body grows past
// the largest object the store accepts. The write is then aborted.
var ErrTooLarge = errors.New("store: object too large")

// ErrCorrupt is wrapped by errors a backend returns when stored data fails
// its integrity checks. Callers treat it like ErrNotFound (and may delete the
// key); it is a distinct error so that it can be counted and logged.
var ErrCorrupt = errors.New("store: corrupt entry")

// ErrBackTier is wrapped by the errors of a deletion or purge that a
// layered store (memory in front of Redis) made in its front tier but not
// in its back tier, or could not announce to the other processes sharing
// it: this process no longer serves what was removed, the others may.
var ErrBackTier = errors.New("store: back tier failed")

// Store keeps entries by key. Implementations are safe for concurrent use.
//
// An entry becomes visible to Get only when the BodyWriter returned by Put is
// committed, and then atomically: a reader sees the old entry, the new one, or
// none, never a partly written one.
//
// Entries are immutable once committed, and so is what Get returns: the
// caller may keep the Entry (its maps, slices and strings, the Note
// included) and read its body to the end for as long as it likes, also
// after the entry is overwritten, deleted or evicted, and it must not
// modify any of it. A store may share that memory between Gets, and with
// its own (the memory store's header strings and Note are views of the
// entry's bytes), but it must never modify memory it has handed out, nor
// reuse it for something else (a buffer recycled after Get, Delete or
// eviction). storetest checks this.
type Store interface {
	// Get returns the entry stored under key and a reader for its body.
	// The caller must close the body. It returns ErrNotFound if the key is
	// absent (or expired, or evicted).
	Get(ctx context.Context, key string) (Entry, io.ReadCloser, error)

	// Put starts writing an entry under key. The body is written to the
	// returned BodyWriter, which must end with exactly one Commit or Abort.
	// The store copies what it keeps of e: the caller may reuse its maps.
	Put(ctx context.Context, key string, e Entry) (BodyWriter, error)

	// Delete removes the entry under key. Deleting an absent key is not an
	// error.
	Delete(ctx context.Context, key string) error
}

// BodyWriter receives an entry's body. Nothing is visible to Get until Commit
// returns nil; Abort discards everything written. Calling Abort after Commit,
// or twice, is harmless. A BodyWriter is used by one goroutine at a time.
//
// Write and Commit may return ErrTooLarge (at Commit, the key and metadata
// count too). A successful Commit does not promise that Get finds the entry:
// a bounded store may decline to keep it, or evict it at once; committing
// an entry that has already expired removes the older entry under its key.
type BodyWriter interface {
	io.Writer
	Commit() error
	Abort()
}

// Entry is the metadata of one stored response. The body travels separately
// as a stream.
type Entry struct {
	// Status is the response's status code.
	Status int
	// Header holds the response's header fields as stored (hop-by-hop fields
	// already removed).
	Header http.Header
	// RequestTime and ResponseTime are when the request that produced this
	// response was sent and when its response was received
	// (request_time and response_time in RFC 9111 §4.2.3).
	RequestTime, ResponseTime time.Time
	// RequestHeader holds the request fields that the response's Vary field
	// nominates, as the request that produced it carried them (the
	// secondary key of RFC 9111 §4.1). Nil when the response has no Vary.
	RequestHeader http.Header
	// Variants, when non-empty, marks this entry as an index rather than a
	// response: it lists the keys under which the variants of one URL are
	// stored. An index has no body.
	Variants []string
	// Tags are the invalidation tags the origin attached to the response.
	Tags []string
	// Expires is when the store may drop the entry because no cache rule can
	// use it any more. Zero means no limit; backends may evict earlier.
	Expires time.Time
	// Size is the body's length in bytes. At Put, a positive Size is only a
	// hint (the Content-Length the caller expects) that a store may use to
	// size its buffer; the store sets the real length when the entry is
	// committed.
	Size int64
	// Note is data the caller attaches at Put and gets back, byte for
	// byte, from Get; the store keeps it and never interprets it. (The
	// proxy keeps there what it derives from the stored header, so that a
	// hit does not parse the header again.) Every backend keeps it: the
	// ones that serialise entries (disk, Redis) record it like any other
	// field, and return none for an entry recorded before it existed.
	// Whoever reads a Note must treat one it does not recognise, or one
	// that is short or damaged, as absent, and derive what it needs from
	// the other fields. It is a string, not a []byte, because it is
	// immutable: Get may return a view of the store's own memory (see
	// Store).
	Note string
}

// Expired reports whether the entry may be dropped at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// MetaSize is an estimate, in bytes, of the memory an entry's metadata takes,
// used by backends that bound their size. The Note is not counted: a
// backend counts it with the bytes it keeps it in (the memory store's
// entry, the disk store's record).
func (e *Entry) MetaSize() int64 {
	n := int64(128)
	for _, h := range []http.Header{e.Header, e.RequestHeader} {
		for k, vs := range h {
			n += int64(len(k)) + 16
			for _, v := range vs {
				n += int64(len(v)) + 16
			}
		}
	}
	for _, v := range e.Variants {
		n += int64(len(v)) + 16
	}
	for _, t := range e.Tags {
		n += int64(len(t)) + 16
	}
	return n
}

// Stats is what a store knows of its own size, for metrics.
type Stats struct {
	Entries  int64 // entries stored, expired ones not yet dropped included
	Bytes    int64 // their size, as the store counts it against MaxBytes
	MaxBytes int64 // the bound on Bytes; 0 for none known
	// Evictions counts the entries removed to make room since the store
	// was opened; -1 when the store does not count them.
	Evictions int64
}

// StatsReporter is implemented by stores that can tell their size cheaply
// (from counters, without I/O). Callers check for it.
type StatsReporter interface {
	Stats() Stats
}

// Purger is implemented by stores that can remove many entries at once,
// for purges by URL prefix and by tag. Callers check for it with a type
// assertion.
//
// Both count the responses they removed: an index (an entry with
// Variants) is removed like any other entry but not counted, so that a
// URL stored as two variants and their index counts as two.
type Purger interface {
	// DeletePrefix removes every entry whose key starts with prefix and
	// returns how many of them were not indexes.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	// DeleteTag removes every entry whose Tags include tag and returns how
	// many it removed (an index has no tags).
	DeleteTag(ctx context.Context, tag string) (int, error)
}

// Locker is implemented by stores shared between Hoard processes, so that
// one process fills an entry while the others wait for it instead of each
// asking the origin.
type Locker interface {
	// TryLock takes the lock named key for at most ttl. It reports false,
	// without waiting, when another holder has it. unlock releases it (only
	// if still held by this caller).
	TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error)
}

// Invalidation is a message between Hoard processes sharing a store: drop
// these keys, prefixes or tags from local tiers.
type Invalidation struct {
	Keys     []string `json:"keys,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// From names the process that sent it, so that it can tell its own
	// invalidations, which it has applied already, from the others'.
	From string `json:"from,omitempty"`
}

// Broadcaster is implemented by shared stores that carry invalidations to
// every process using them (for example Redis pub/sub).
type Broadcaster interface {
	// Publish sends inv to every subscriber, this process's included.
	Publish(ctx context.Context, inv Invalidation) error
	// Subscribe calls fn for each invalidation published until ctx ends.
	// It returns once the subscription is active.
	Subscribe(ctx context.Context, fn func(Invalidation)) error
}

// Readier is implemented by stores that depend on a server (Redis), so that
// a health check can tell whether the store works as configured. Ready
// returns nil when it does, and otherwise an error saying why not. Callers
// check for it with a type assertion; a store without it is always ready.
type Readier interface {
	Ready(ctx context.Context) error
}

// InvalidationWatcher is implemented by stores that learn of invalidations
// made by other processes (a tiered store over a Broadcaster), so that the
// proxy can outdate its fetches of those keys that are under way.
type InvalidationWatcher interface {
	// WatchInvalidations makes fn be called for each invalidation another
	// process sent, before the store applies it, as a local purge outdates
	// fetches before it deletes. Call it before the store starts; a later
	// call replaces fn.
	WatchInvalidations(fn func(Invalidation))
}
