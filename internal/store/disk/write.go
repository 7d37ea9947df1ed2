package disk

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hoard-cache/hoard/internal/store"
)

var (
	errCommitted = errors.New("already committed")
	errAborted   = errors.New("aborted")
)

// bodyWriter buffers a body in memory, in chunks of chunkSize, until Commit
// writes it with its metadata in one transaction. It is not safe for
// concurrent use.
type bodyWriter struct {
	s   *Store
	key string
	// record is the entry's meta record, its header sealed at Commit.
	record  []byte
	tags    []string
	expires time.Time
	chunks  [][]byte
	size    int64
	crc     uint32 // CRC-32C of the body so far
	// ended is why the writer takes no more writes: errCommitted, errAborted
	// or a wrapped store.ErrTooLarge. Nil while it is open.
	ended error
}

// commitment is an entry ready to be written by txn.insert.
type commitment struct {
	key     string
	record  []byte
	chunks  [][]byte
	tags    []string
	expires time.Time
	weight  int64
	access  int64 // Unix nanoseconds
}

func (s *Store) newBodyWriter(key string, e *store.Entry) (*bodyWriter, error) {
	if key == "" {
		return nil, errors.New("disk store: put: empty key")
	}
	if len(key) > maxKeyLen {
		return nil, fmt.Errorf("disk store: put: key of %d bytes is longer than %d: %w", len(key), maxKeyLen, store.ErrTooLarge)
	}
	for _, tag := range e.Tags {
		if len(tagRow(tag, key)) > bolt.MaxKeySize {
			return nil, fmt.Errorf("disk store: put %s: tag of %d bytes is too long for its key: %w", key, len(tag), store.ErrTooLarge)
		}
	}
	rec, err := newRecord(e)
	if err != nil {
		return nil, fmt.Errorf("disk store: put %s: %w", key, err)
	}
	return &bodyWriter{
		s:       s,
		key:     key,
		record:  rec,
		tags:    slices.Clone(e.Tags),
		expires: e.Expires,
	}, nil
}

// Write appends p to the body. Past MaxObjectSize it aborts the writer and
// returns an error wrapping store.ErrTooLarge.
func (w *bodyWriter) Write(p []byte) (int, error) {
	if w.ended != nil {
		return 0, fmt.Errorf("disk store: write %s: %w", w.key, w.ended)
	}
	if w.size+int64(len(p)) > w.s.maxObjectSize {
		w.end(fmt.Errorf("body exceeds %d bytes: %w", w.s.maxObjectSize, store.ErrTooLarge))
		return 0, fmt.Errorf("disk store: write %s: %w", w.key, w.ended)
	}
	w.crc = store.UpdateChecksum(w.crc, p)
	w.size += int64(len(p))
	n := len(p)
	for len(p) > 0 {
		last := len(w.chunks) - 1
		if last < 0 || len(w.chunks[last]) == chunkSize {
			var chunk []byte
			if last >= 0 {
				// The body spans chunks: the ones before the last are full.
				chunk = make([]byte, 0, chunkSize)
			}
			w.chunks = append(w.chunks, chunk)
			last++
		}
		chunk := w.chunks[last]
		k := min(len(p), chunkSize-len(chunk))
		if len(chunk)+k > cap(chunk) {
			// Grow the first chunk as append would, but never past
			// chunkSize.
			grown := make([]byte, len(chunk), min(chunkSize, max(2*cap(chunk), len(chunk)+k, 512)))
			copy(grown, chunk)
			chunk = grown
		}
		w.chunks[last] = append(chunk, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// Commit writes the entry, replacing any older one, in one transaction that
// bbolt syncs to disk before Commit returns. An entry already expired is
// not stored, and the older one is removed all the same. An entry heavier
// than MaxBytes is not stored either, and Commit returns an error wrapping
// store.ErrTooLarge. When the store would grow past MaxBytes, the same
// transaction first removes expired entries, then the least recently used.
func (w *bodyWriter) Commit() error {
	if w.ended != nil {
		return fmt.Errorf("disk store: commit %s: %w", w.key, w.ended)
	}
	now := w.s.clock()
	sealRecord(w.record, header{access: now.UnixNano(), bodyLen: w.size, bodyCRC: w.crc})
	c := &commitment{
		key:     w.key,
		record:  w.record,
		chunks:  w.chunks,
		tags:    w.tags,
		expires: w.expires,
		weight:  weight(w.key, w.record, w.size),
		access:  now.UnixNano(),
	}
	if c.weight > w.s.maxBytes {
		w.end(fmt.Errorf("entry weighs %d bytes, more than the store holds (%d): %w",
			c.weight, w.s.maxBytes, store.ErrTooLarge))
		return fmt.Errorf("disk store: commit %s: %w", w.key, w.ended)
	}
	expired := !c.expires.IsZero() && !now.Before(c.expires)
	w.end(errCommitted)
	if err := w.s.commit(c, expired, now); err != nil {
		return fmt.Errorf("disk store: commit %s: %w", c.key, err)
	}
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
	w.record, w.chunks, w.tags = nil, nil, nil
}

// commit writes c in place of the entry under its key, or only removes that
// entry if c has expired.
func (s *Store) commit(c *commitment, expired bool, now time.Time) error {
	return s.update(func(t *txn) error {
		if _, err := t.remove(c.key); err != nil {
			return err
		}
		if expired {
			return nil
		}
		if err := s.makeRoom(t, c.weight, now); err != nil {
			return err
		}
		return t.insert(c)
	})
}

// makeRoom removes entries until need more bytes fit under MaxBytes:
// expired entries first, then the least recently used.
func (s *Store) makeRoom(t *txn, need int64, now time.Time) error {
	if t.bytes+need <= s.maxBytes {
		return nil
	}
	if _, err := t.removeExpired(now, sweepBatch); err != nil {
		return err
	}
	for t.bytes+need > s.maxBytes {
		victims := s.recent.coldest(t.bytes+need-s.maxBytes, t.removed)
		if len(victims) == 0 {
			// Only a size record that counts more than the entries would
			// lead here; Open corrects it. Commit over the bound rather
			// than fail.
			return nil
		}
		for _, key := range victims {
			gone, err := t.remove(key)
			if err != nil {
				return err
			}
			if gone {
				t.evicted++
			}
			// Skip key from now on even if it was gone already, so that
			// the loop ends, and forget it after the commit.
			t.removed[key] = true
		}
	}
	return nil
}
