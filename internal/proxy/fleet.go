package proxy

import (
	"context"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

// fleetPoll is how often a process waiting for another to fill an entry
// looks for it in the shared store.
const fleetPoll = 20 * time.Millisecond

// fleetLockKey names the fill lock of a primary key.
func fleetLockKey(primary string) string { return "fill:" + primary }

// fleetFill coordinates a miss with the other processes sharing the store
// (store.Locker), so that a fleet asks the origin once per object. It takes
// the key's fill lock; the caller then fetches and calls unlock. When
// another process holds the lock, it waits until the entry appears in the
// store or the lock is free again (the holder's response was not storable,
// or it died: the lock's lifetime bounds that), and reports waited: the
// caller looks again before fetching, holding the lock if it got it.
// Without a shared store, or when the lock cannot be taken because the
// store is failing, the caller just fetches.
func (h *Handler) fleetFill(ctx context.Context, primary string) (unlock func(), waited bool) {
	locker, ok := h.opts.Store.(store.Locker)
	if !ok {
		return nil, false
	}
	ttl := min(h.opts.OriginTimeout, 10*time.Second)
	unlock, held, err := locker.TryLock(ctx, fleetLockKey(primary), ttl)
	if err != nil {
		h.opts.Logger.Debug("fill lock unavailable; fetching alone", "cache_key", primary, "error", err)
		return nil, false
	}
	if held {
		return unlock, false
	}
	deadline := time.NewTimer(ttl)
	defer deadline.Stop()
	tick := time.NewTicker(fleetPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, true
		case <-deadline.C:
			return nil, true
		case <-tick.C:
			if _, body, ok := h.storeGet(ctx, primary); ok {
				body.Close()
				return nil, true
			}
			if unlock, held, err := locker.TryLock(ctx, fleetLockKey(primary), ttl); err == nil && held {
				return unlock, true
			}
		}
	}
}
