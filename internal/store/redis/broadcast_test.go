package redisstore

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/redistest"
)

// subscribe subscribes s and returns the channel its invalidations arrive on.
func subscribe(t *testing.T, ctx context.Context, s *Store) <-chan store.Invalidation {
	t.Helper()
	got := make(chan store.Invalidation, 16)
	if err := s.Subscribe(ctx, func(inv store.Invalidation) { got <- inv }); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return got
}

// receive waits up to within for an invalidation on ch.
func receive(t *testing.T, ch <-chan store.Invalidation, within time.Duration) (store.Invalidation, bool) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case inv := <-ch:
		return inv, true
	case <-timer.C:
		return store.Invalidation{}, false
	}
}

func TestPublishReachesEverySubscriber(t *testing.T) {
	addr := redistest.Start(t)
	a := newStore(t, addr, Options{Prefix: "bus:"})
	b := newStore(t, addr, Options{Prefix: "bus:"})
	other := newStore(t, addr, Options{Prefix: "other:"})
	gotA := subscribe(t, t.Context(), a)
	gotB := subscribe(t, t.Context(), b)
	gotOther := subscribe(t, t.Context(), other)

	want := store.Invalidation{Keys: []string{"GET https://e.com/a"}, Prefixes: []string{"GET https://e.com/p/"}, Tags: []string{"t1"}}
	if err := a.Publish(t.Context(), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for name, ch := range map[string]<-chan store.Invalidation{"publisher": gotA, "other process": gotB} {
		inv, ok := receive(t, ch, 100*time.Millisecond)
		if !ok {
			t.Errorf("%s: no invalidation within 100ms", name)
			continue
		}
		if !reflect.DeepEqual(inv, want) {
			t.Errorf("%s received %+v, want %+v", name, inv, want)
		}
	}
	if inv, ok := receive(t, gotOther, 50*time.Millisecond); ok {
		t.Errorf("a store under another prefix received %+v", inv)
	}
}

func TestSubscribeIgnoresMalformedMessages(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{})
	got := subscribe(t, t.Context(), s)
	if err := s.rdb.Publish(t.Context(), s.channel(), "not json").Err(); err != nil {
		t.Fatal(err)
	}
	want := store.Invalidation{Tags: []string{"after"}}
	if err := s.Publish(t.Context(), want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	inv, ok := receive(t, got, time.Second)
	if !ok || !reflect.DeepEqual(inv, want) {
		t.Errorf("first delivery = %+v, %v; want %+v, the malformed message skipped", inv, ok, want)
	}
}

// TestSubscribeStops pins that a subscription ends with its context, and
// that Close waits for the subscriptions' goroutines (the race detector and
// the test's leak of a blocked goroutine would show otherwise).
func TestSubscribeStops(t *testing.T) {
	addr := redistest.Start(t)
	s := newStore(t, addr, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	got := subscribe(t, ctx, s)
	stays := subscribe(t, t.Context(), s)
	cancel()
	// Wait until Redis counts one subscriber left, rather than sleep.
	deadline := time.Now().Add(5 * time.Second)
	for {
		counts, err := s.rdb.PubSubNumSub(t.Context(), s.channel()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if counts[s.channel()] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers after cancelling one = %d, want 1", counts[s.channel()])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Publish(t.Context(), store.Invalidation{Keys: []string{"k"}}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if _, ok := receive(t, stays, time.Second); !ok {
		t.Errorf("the remaining subscription received nothing")
	}
	if inv, ok := receive(t, got, 50*time.Millisecond); ok {
		t.Errorf("a cancelled subscription received %+v", inv)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Subscribe(t.Context(), func(store.Invalidation) {}); err == nil {
		t.Errorf("Subscribe after Close = nil, want an error")
	}
}
