package tiered

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
)

// bus is a shared back tier that broadcasts, as Redis does: every
// subscriber, the publisher included, gets each invalidation, here when
// the test calls deliver.
type bus struct {
	store.Store
	mu      sync.Mutex
	subs    []func(store.Invalidation)
	pending []store.Invalidation
}

func (b *bus) Publish(_ context.Context, inv store.Invalidation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, inv)
	return nil
}

func (b *bus) Subscribe(_ context.Context, fn func(store.Invalidation)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, fn)
	return nil
}

func (b *bus) deliver() {
	b.mu.Lock()
	pending, subs := b.pending, slices.Clone(b.subs)
	b.pending = nil
	b.mu.Unlock()
	for _, inv := range pending {
		for _, fn := range subs {
			fn(inv)
		}
	}
}

// TestInvalidationsFromOtherProcesses: a process's deletion reaches the
// other process's front tier and its watcher; back at the process that
// made it, it is skipped, so it cannot remove what was stored since.
func TestInvalidationsFromOtherProcesses(t *testing.T) {
	shared := &bus{Store: newMemory(t)}
	frontA, frontB := newMemory(t), newMemory(t)
	a, b := New(frontA, shared, nil), New(frontB, shared, nil)
	var seenA, seenB []store.Invalidation
	a.WatchInvalidations(func(inv store.Invalidation) { seenA = append(seenA, inv) })
	b.WatchInvalidations(func(inv store.Invalidation) { seenB = append(seenB, inv) })
	for _, s := range []*Store{a, b} {
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	put(t, a, "k", "v1")
	if got, err := get(t, b, "k"); err != nil || got != "v1" {
		t.Fatalf("B reads %q, %v", got, err)
	}
	if err := a.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	put(t, a, "k", "v2") // stored again before the deletion's broadcast comes back
	shared.deliver()

	if _, err := get(t, frontB, "k"); err == nil {
		t.Errorf("B's front tier still holds k after A deleted it")
	}
	if got, err := get(t, frontA, "k"); err != nil || got != "v2" {
		t.Errorf("A's front tier: %q, %v; want v2, stored after A's own deletion", got, err)
	}
	if len(seenA) != 0 {
		t.Errorf("A's watcher saw its own invalidations: %v", seenA)
	}
	if len(seenB) != 1 || !slices.Equal(seenB[0].Keys, []string{"k"}) {
		t.Errorf("B's watcher saw %v, want one invalidation of k", seenB)
	}
}

// slowDeletes is a back tier whose deletes wait to be released, like a
// round trip to Redis.
type slowDeletes struct {
	*bus
	deleting chan struct{}
	release  chan struct{}
}

func (s *slowDeletes) Delete(ctx context.Context, key string) error {
	close(s.deleting)
	<-s.release
	return s.bus.Delete(ctx, key)
}

// TestReadDuringDeleteIsNotPromoted: a read that falls through to the back
// tier while a Delete is on its way there is served the old entry, but
// the old entry is not in the front tier once Delete has returned.
func TestReadDuringDeleteIsNotPromoted(t *testing.T) {
	back := &slowDeletes{bus: &bus{Store: newMemory(t)}, deleting: make(chan struct{}), release: make(chan struct{})}
	s := New(newMemory(t), back, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", "old")
	deleted := make(chan struct{})
	go func() {
		s.Delete(context.Background(), "k")
		close(deleted)
	}()
	<-back.deleting
	if got, err := get(t, s, "k"); err != nil || got != "old" {
		t.Fatalf("a read while the back tier deletes: %q, %v; want the old entry", got, err)
	}
	close(back.release)
	<-deleted
	back.deliver()
	if got, err := get(t, s, "k"); err == nil {
		t.Errorf("after Delete returned, the store still serves %q", got)
	}
}
