package disk

import (
	"maps"
	"slices"
	"time"
)

// sweepLoop removes expired entries and writes back access times every
// sweepInterval until Close.
func (s *Store) sweepLoop() {
	defer close(s.swept)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case <-tick.C:
			if err := s.sweep(); err != nil {
				// Nobody waits for the sweep, so it is handled here: the
				// next one tries again.
				s.log.Warn("disk store: sweep failed", "path", s.file, "error", err)
			}
		}
	}
}

// sweep removes the entries expired by now, in batches, and writes back the
// access times of keys read since they were last written.
func (s *Store) sweep() error {
	now := s.clock()
	for {
		more := false
		err := s.update(func(t *txn) error {
			var err error
			more, err = t.removeExpired(now, sweepBatch)
			return err
		})
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return s.writeAccessTimes()
}

// writeAccessTimes writes the access times of keys read since their records
// last recorded one, so that the recency order survives a restart. Each key
// is written at most once per accessGranularity; a write that fails loses
// only hints.
func (s *Store) writeAccessTimes() error {
	dirty := s.recent.takeDirty()
	if len(dirty) == 0 {
		return nil
	}
	return s.update(func(t *txn) error {
		// In key order, bbolt touches each page once.
		for _, key := range slices.Sorted(maps.Keys(dirty)) {
			k := []byte(key)
			rec := t.meta.Get(k)
			if rec == nil {
				continue
			}
			h, err := parseHeader(rec)
			if err != nil || h.access >= dirty[key] {
				continue
			}
			// bbolt's memory is read-only: write a copy.
			rec = slices.Clone(rec)
			setAccess(rec, dirty[key])
			if err := t.meta.Put(k, rec); err != nil {
				return err
			}
			t.changed = true
		}
		return nil
	})
}
