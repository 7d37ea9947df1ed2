// Package tiered puts a small fast store (memory) in front of a larger or
// shared one (disk, Redis): hot objects are served from the front, misses
// fall through to the back and are copied forward as they are read.
//
// When the back tier is shared between Hoard processes and can broadcast
// (store.Broadcaster), every deletion and purge is published so that the
// front tiers of all processes drop their copies too. A failing back tier
// degrades reads to a miss and writes to the front tier alone, logged at
// most once per interval; it never fails a request. A deletion or purge
// that it fails is made in the front tier and then reported, wrapping
// store.ErrBackTier: what other processes serve may not have changed.
package tiered

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

// logEvery bounds how often back-tier failures are logged.
const logEvery = 10 * time.Second

// Store is a front tier over a back tier.
type Store struct {
	front, back store.Store
	log         *slog.Logger

	// epoch counts deletions and purges: a promotion that started before
	// one is not committed, so that a purge is never undone by a copy that
	// was read before it.
	epoch atomic.Uint64

	// id names this process in the invalidations it publishes, so that
	// it skips its own when they come back.
	id string
	// watch, when set, is told of each invalidation from another process.
	watch atomic.Pointer[func(store.Invalidation)]

	mu       sync.Mutex // guards lastLog, failures
	lastLog  time.Time
	failures int
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Purger = (*Store)(nil)
	_ store.Locker = (*Store)(nil)

	_ store.InvalidationWatcher = (*Store)(nil)
	_ store.Readier             = (*Store)(nil)
)

// New returns a store that reads front first. logger may be nil.
func New(front, back store.Store, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{front: front, back: back, log: logger, id: rand.Text()}
}

// WatchInvalidations makes fn be called with each invalidation another
// process publishes, before the front tier applies it.
func (s *Store) WatchInvalidations(fn func(store.Invalidation)) { s.watch.Store(&fn) }

// subscribeRetry is how long Start waits between attempts to subscribe
// while the back tier is unreachable.
const subscribeRetry = time.Second

// Start subscribes to the back tier's invalidations, when it broadcasts
// them, so that purges made by other processes reach the front tier; the
// subscription lasts until ctx ends. When the back tier is unreachable,
// the process still starts: Start logs it and keeps trying in the
// background, and the front tier is emptied once the subscription is up,
// since invalidations sent meanwhile were missed.
func (s *Store) Start(ctx context.Context) error {
	b, ok := s.back.(store.Broadcaster)
	if !ok {
		return nil
	}
	err := b.Subscribe(ctx, s.applyLocally)
	if err == nil {
		return nil
	}
	s.backFailed("subscribe", "", err)
	go func() {
		t := time.NewTicker(subscribeRetry)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := b.Subscribe(ctx, s.applyLocally); err != nil {
				s.backFailed("subscribe", "", err)
				continue
			}
			s.applyLocally(store.Invalidation{Prefixes: []string{""}})
			return
		}
	}()
	return nil
}

// applyLocally drops what an invalidation names from the front tier. This
// process's own invalidations, applied when they were made, are skipped:
// applied again when they come back, they could remove an entry stored
// since.
func (s *Store) applyLocally(inv store.Invalidation) {
	if inv.From == s.id {
		return
	}
	if fn := s.watch.Load(); fn != nil {
		(*fn)(inv) // first, as a local purge outdates fetches before it deletes
	}
	s.epoch.Add(1)
	ctx := context.Background()
	for _, k := range inv.Keys {
		_ = s.front.Delete(ctx, k) // a front tier (memory) does not fail deletes
	}
	if p, ok := s.front.(store.Purger); ok {
		for _, prefix := range inv.Prefixes {
			_, _ = p.DeletePrefix(ctx, prefix)
		}
		for _, tag := range inv.Tags {
			_, _ = p.DeleteTag(ctx, tag)
		}
	}
}

// backFailed logs a back-tier failure, at most once per logEvery.
func (s *Store) backFailed(op, key string, err error) {
	s.mu.Lock()
	s.failures++
	if time.Since(s.lastLog) < logEvery {
		s.mu.Unlock()
		return
	}
	n := s.failures
	s.failures, s.lastLog = 0, time.Now()
	s.mu.Unlock()
	s.log.Warn("shared store failing; serving from memory and origin", "op", op, "cache_key", key,
		"failures", n, "error", err)
}

// Get reads the front tier, then the back tier. An entry found in the back
// is copied to the front while the caller reads it.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	e, body, err := s.front.Get(ctx, key)
	if err == nil {
		return e, body, nil
	}
	// The epoch before the back tier is read: a deletion that starts
	// while it is being read must keep the copy out of the front.
	epoch := s.epoch.Load()
	e, body, err = s.back.Get(ctx, key)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
		return store.Entry{}, nil, err
	default:
		s.backFailed("get", key, err)
		return store.Entry{}, nil, store.ErrNotFound
	}
	bw, perr := s.front.Put(ctx, key, e)
	if perr != nil {
		return e, body, nil
	}
	p := &promote{ReadCloser: body, bw: bw, size: e.Size, s: s, epoch: epoch}
	if e.Size == 0 {
		// Nothing to read (a variant index, an empty body): promote now,
		// or entries read without their body would never reach the front.
		p.commit()
	}
	return e, p, nil
}

// promote copies a back-tier body into the front tier as it is read, and
// commits it only when all of it was read.
type promote struct {
	io.ReadCloser
	bw    store.BodyWriter
	size  int64
	read  int64
	s     *Store
	epoch uint64 // s.epoch when the read began
}

// commit keeps the promoted copy unless something was deleted meanwhile.
func (p *promote) commit() {
	if p.s.epoch.Load() == p.epoch {
		_ = p.bw.Commit() // the front tier may decline to keep it
	} else {
		p.bw.Abort()
	}
	p.bw = nil
}

func (p *promote) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 && p.bw != nil {
		if _, werr := p.bw.Write(b[:n]); werr != nil {
			p.bw.Abort()
			p.bw = nil
		}
		p.read += int64(n)
	}
	if err == io.EOF && p.bw != nil {
		if p.read == p.size {
			p.commit()
		} else {
			p.bw.Abort()
			p.bw = nil
		}
	}
	return n, err
}

// ReadAt passes random access through (for Range requests); a body read
// that way is not promoted.
func (p *promote) ReadAt(b []byte, off int64) (int, error) {
	if ra, ok := p.ReadCloser.(io.ReaderAt); ok {
		return ra.ReadAt(b, off)
	}
	return 0, errors.New("tiered store: body has no random access")
}

func (p *promote) Close() error {
	if p.bw != nil {
		p.bw.Abort()
		p.bw = nil
	}
	return p.ReadCloser.Close()
}

// Put writes to both tiers; the entry is committed to each.
func (s *Store) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	fw, err := s.front.Put(ctx, key, e)
	if err != nil {
		return nil, err
	}
	bw, err := s.back.Put(ctx, key, e)
	if err != nil {
		s.backFailed("put", key, err)
		bw = nil
	}
	return &bothWriter{s: s, key: key, front: fw, back: bw}, nil
}

// bothWriter writes one body to both tiers. A back-tier failure only drops
// the back copy.
type bothWriter struct {
	s           *Store
	key         string
	front, back store.BodyWriter
}

func (w *bothWriter) Write(p []byte) (int, error) {
	if w.back != nil {
		if _, err := w.back.Write(p); err != nil {
			if !errors.Is(err, store.ErrTooLarge) {
				w.s.backFailed("write", w.key, err)
			}
			w.back.Abort()
			w.back = nil
		}
	}
	return w.front.Write(p)
}

func (w *bothWriter) Commit() error {
	if w.back != nil {
		if err := w.back.Commit(); err != nil && !errors.Is(err, store.ErrTooLarge) {
			w.s.backFailed("commit", w.key, err)
		}
	}
	return w.front.Commit()
}

func (w *bothWriter) Abort() {
	if w.back != nil {
		w.back.Abort()
	}
	w.front.Abort()
}

// Delete removes key from both tiers and, when the back tier broadcasts,
// from every other process's front tier. When the back tier fails, key is
// still removed from the front tier, and the error wraps
// store.ErrBackTier.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.epoch.Add(1)
	if err := s.front.Delete(ctx, key); err != nil {
		return err
	}
	backErr := s.back.Delete(ctx, key)
	// Once more, now that the back tier no longer has it: a read that
	// fell through to the back while it was being deleted there may have
	// copied the old entry forward.
	s.epoch.Add(1)
	_ = s.front.Delete(ctx, key) // a front tier (memory) does not fail deletes
	// Published even when the back tier failed the delete: other
	// processes may still hear of it and drop their copies.
	publishErr := s.publish(ctx, store.Invalidation{Keys: []string{key}})
	if err := cmp.Or(backErr, publishErr); err != nil {
		return fmt.Errorf("%w: delete %s: %w", store.ErrBackTier, key, err)
	}
	return nil
}

// publish announces inv to the other processes, when the back tier
// broadcasts.
func (s *Store) publish(ctx context.Context, inv store.Invalidation) error {
	inv.From = s.id
	if b, ok := s.back.(store.Broadcaster); ok {
		if err := b.Publish(ctx, inv); err != nil {
			return fmt.Errorf("publish invalidation: %w", err)
		}
	}
	return nil
}

// DeletePrefix purges by key prefix in both tiers and broadcasts it.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return s.purge(ctx, store.Invalidation{Prefixes: []string{prefix}}, func(p store.Purger) (int, error) {
		return p.DeletePrefix(ctx, prefix)
	})
}

// DeleteTag purges by tag in both tiers and broadcasts it.
func (s *Store) DeleteTag(ctx context.Context, tag string) (int, error) {
	return s.purge(ctx, store.Invalidation{Tags: []string{tag}}, func(p store.Purger) (int, error) {
		return p.DeleteTag(ctx, tag)
	})
}

// purge runs one purge on each tier that can, and reports the larger
// count (the tiers mostly hold the same entries). When the back tier
// fails, the front tier is purged all the same, and the error wraps
// store.ErrBackTier.
func (s *Store) purge(ctx context.Context, inv store.Invalidation, run func(store.Purger) (int, error)) (int, error) {
	s.epoch.Add(1)
	n := 0
	if p, ok := s.front.(store.Purger); ok {
		m, err := run(p)
		if err != nil {
			return m, err
		}
		n = m
	}
	var backErr error
	if p, ok := s.back.(store.Purger); ok {
		var m int
		m, backErr = run(p)
		n = max(n, m)
	}
	// Once more on the front, as Delete does: reads that fell through to
	// the back during its purge may have copied purged entries forward.
	s.epoch.Add(1)
	if p, ok := s.front.(store.Purger); ok {
		_, _ = run(p)
	}
	publishErr := s.publish(ctx, inv)
	if err := cmp.Or(backErr, publishErr); err != nil {
		return n, fmt.Errorf("%w: %w", store.ErrBackTier, err)
	}
	return n, nil
}

// TryLock uses the back tier's lock when it has one; otherwise the lock
// is always granted (one process needs no fleet-wide lock).
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	if l, ok := s.back.(store.Locker); ok {
		return l.TryLock(ctx, key, ttl)
	}
	return func() {}, true, nil
}

// Ready reports whether the back tier works, when it can tell
// (store.Readier); the front tier (memory) always does. While it does not,
// requests are still served, from the front tier and the origin.
func (s *Store) Ready(ctx context.Context) error {
	if r, ok := s.back.(store.Readier); ok {
		return r.Ready(ctx)
	}
	return nil
}

// Close closes both tiers (those that can be closed).
func (s *Store) Close() error {
	var errs []error
	for _, t := range []store.Store{s.front, s.back} {
		if c, ok := t.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Tiers returns the front and back stores, for callers that report on each
// (their sizes, say). They must not be written around the tiered Store.
func (s *Store) Tiers() (front, back store.Store) { return s.front, s.back }
