package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/internal/store"
)

var (
	errCommitted = errors.New("already committed")
	errAborted   = errors.New("aborted")
)

// bodyWriter buffers a body until Commit. It is not safe for concurrent use.
//
// It keeps the context of Put, against the rule of never storing one: Commit
// does the I/O, and store.BodyWriter gives it no context of its own.
type bodyWriter struct {
	s     *Store
	ctx   context.Context
	key   string
	entry store.Entry
	body  []byte
	// ended is why the writer takes no more writes: errCommitted, errAborted
	// or a wrapped store.ErrTooLarge. Nil while it is open.
	ended error
}

// Write appends p to the body. Past MaxObjectSize it aborts the writer and
// returns an error wrapping store.ErrTooLarge.
func (w *bodyWriter) Write(p []byte) (int, error) {
	if w.ended != nil {
		return 0, fmt.Errorf("redis store: write %s: %w", w.key, w.ended)
	}
	if int64(len(w.body))+int64(len(p)) > w.s.maxObjectSize {
		w.end(fmt.Errorf("body exceeds %d bytes: %w", w.s.maxObjectSize, store.ErrTooLarge))
		return 0, fmt.Errorf("redis store: write %s: %w", w.key, w.ended)
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Abort discards the body. After Commit, or a second time, it does nothing.
// Nothing reached Redis before Commit, so there is nothing to remove.
func (w *bodyWriter) Abort() {
	if w.ended == nil {
		w.end(errAborted)
	}
}

func (w *bodyWriter) end(why error) {
	w.ended = why
	w.body = nil
	w.entry = store.Entry{}
}

// Commit makes the entry visible to Get, replacing any older one. It writes
// the body's chunks, then switches the meta key to the new version in one
// SET, so that a reader sees the old version or the new one whole. An entry
// that has already expired is not stored, and the older one is removed all
// the same.
//
// If Commit fails, Get may find the older entry, none, or (when only the
// bookkeeping after the switch failed) the new one whole; never a part of
// the new one.
func (w *bodyWriter) Commit() error {
	if w.ended != nil {
		return fmt.Errorf("redis store: commit %s: %w", w.key, w.ended)
	}
	entry, body := w.entry, w.body
	w.end(errCommitted)
	if err := w.s.commit(w.ctx, w.key, entry, body); err != nil {
		return fmt.Errorf("redis store: commit %s: %w", w.key, err)
	}
	return nil
}

func (s *Store) commit(ctx context.Context, key string, e store.Entry, body []byte) error {
	now := s.clock()
	if e.Expired(now) {
		return s.remove(ctx, key)
	}
	ttl := ttlUntil(e.Expires, now)
	r, err := newRecord(e, body, s.chunkSize, min(inlineMax, s.chunkSize))
	if err != nil {
		return err
	}
	rec, err := r.encode()
	if err != nil {
		return err
	}
	if err := s.writeChunks(ctx, key, &r, body, ttl); err != nil {
		return err
	}

	// The switch. The tag sets and the PERSISTs of an entry without
	// Expires ride in the same pipeline; they come after the SET, so a
	// failure among them leaves a visible entry that a tag purge may miss
	// or whose chunks expire in provisionalTTL (then read as corrupt, a
	// miss): degraded, never torn.
	pipe := s.rdb.Pipeline()
	set := pipe.SetArgs(ctx, s.metaKey(key), rec, redis.SetArgs{TTL: ttl, Get: true})
	for _, tag := range slices.Compact(slices.Sorted(slices.Values(r.entry.Tags))) {
		tagTTL := ttl
		if ttl > 0 {
			tagTTL += chunkGrace
		}
		addTag.Eval(ctx, pipe, []string{s.tagKey(tag)}, key, tagTTL.Milliseconds())
	}
	if ttl == 0 {
		for n := range r.chunks {
			pipe.Persist(ctx, s.chunkKey(key, &r, n))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if old, err := set.Bytes(); err == nil {
		s.retire(ctx, key, old)
	}
	return nil
}

// writeChunks stores the chunks of r in one pipeline. They live chunkGrace
// longer than the entry, or provisionalTTL if the entry has no limit (the
// switch then persists them).
func (s *Store) writeChunks(ctx context.Context, key string, r *record, body []byte, ttl time.Duration) error {
	if r.chunks == 0 {
		return nil
	}
	chunkTTL := provisionalTTL
	if ttl > 0 {
		chunkTTL = ttl + chunkGrace
	}
	pipe := s.rdb.Pipeline()
	for n := range r.chunks {
		chunk := body[n*s.chunkSize : min((n+1)*s.chunkSize, len(body))]
		pipe.Set(ctx, s.chunkKey(key, r, n), chunk, chunkTTL)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// addTag adds a cache key to a tag's set and keeps the set at least as long
// as the entry: ARGV[2] is the entry's TTL in milliseconds, 0 for none. A
// set that has no TTL keeps none.
var addTag = redis.NewScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then
	redis.call('PERSIST', KEYS[1])
elseif existed == 0 then
	redis.call('PEXPIRE', KEYS[1], ttl)
else
	local current = redis.call('PTTL', KEYS[1])
	if current >= 0 and current < ttl then
		redis.call('PEXPIRE', KEYS[1], ttl)
	end
end
return 0
`)
