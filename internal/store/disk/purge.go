package disk

import (
	"bytes"
	"context"
	"fmt"
	"slices"
)

// purgeBatch is how many entries one purge transaction removes at most, so
// that a purge of many entries does not hold up commits for long. A purge
// is therefore not atomic: Get may see some of its entries gone and others
// not yet.
const purgeBatch = 1000

// DeletePrefix removes every entry whose key starts with prefix and returns
// how many were responses, not indexes (store.Purger). It stops between
// batches if ctx ends.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	p := []byte(prefix)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("disk store: delete prefix %q: %w", prefix, err)
		}
		removed, more := 0, false
		err := s.update(func(t *txn) error {
			removed, more = 0, false
			// Collect first: deleting under a bbolt cursor can skip keys.
			var keys []string
			c := t.meta.Cursor()
			for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
				if len(keys) == purgeBatch {
					more = true
					break
				}
				keys = append(keys, string(k))
			}
			for _, key := range keys {
				index := t.isIndex(key)
				if _, err := t.remove(key); err != nil {
					return err
				}
				if !index {
					removed++
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("disk store: delete prefix %q: %w", prefix, err)
		}
		total += removed
		if !more {
			return total, nil
		}
	}
}

// DeleteTag removes every entry whose Tags include tag and returns how many
// it removed. It stops between batches if ctx ends.
//
// A tag row whose entry is gone, or was stored again without the tag, is
// dropped without counting. An entry whose record is corrupt is removed and
// counted: its tags cannot be checked, and it is no use to anyone.
func (s *Store) DeleteTag(ctx context.Context, tag string) (int, error) {
	prefix := tagPrefix(tag)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("disk store: delete tag %q: %w", tag, err)
		}
		removed, more := 0, false
		err := s.update(func(t *txn) error {
			removed, more = 0, false
			var rows [][]byte
			c := t.tags.Cursor()
			for row, _ := c.Seek(prefix); row != nil && bytes.HasPrefix(row, prefix); row, _ = c.Next() {
				if len(rows) == purgeBatch {
					more = true
					break
				}
				rows = append(rows, bytes.Clone(row))
			}
			for _, row := range rows {
				key := string(row[len(prefix):])
				if t.taggedOrCorrupt(key, tag) {
					found, err := t.remove(key)
					if err != nil {
						return err
					}
					if found {
						removed++
					}
				}
				// remove took the row if the entry had the tag; otherwise
				// it was stale.
				if err := t.tags.Delete(row); err != nil {
					return err
				}
				t.changed = true
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("disk store: delete tag %q: %w", tag, err)
		}
		total += removed
		if !more {
			return total, nil
		}
	}
}

// isIndex reports whether the entry under key is an index (has Variants).
// A corrupt entry is not: it is counted as the response it was meant to be.
func (t *txn) isIndex(key string) bool {
	rec := t.meta.Get([]byte(key))
	if rec == nil {
		return false
	}
	h, err := parseHeader(rec)
	if err != nil {
		return false
	}
	e, err := decodeEntry(rec, h)
	return err == nil && len(e.Variants) > 0
}

// taggedOrCorrupt reports whether the entry under key has tag or cannot be
// read; false if there is none.
func (t *txn) taggedOrCorrupt(key, tag string) bool {
	rec := t.meta.Get([]byte(key))
	if rec == nil {
		return false
	}
	h, err := parseHeader(rec)
	if err != nil {
		return true
	}
	e, err := decodeEntry(rec, h)
	return err != nil || slices.Contains(e.Tags, tag)
}
