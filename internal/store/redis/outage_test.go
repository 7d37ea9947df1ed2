package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// TestOutage stops Redis under a store: every call must fail fast, with an
// error that is not ErrNotFound, and work again once Redis is back on the
// same address, without a new store. A subscription must come back too, and
// say that it missed messages.
func TestOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.Addr(), Options{})
	ctx := t.Context()
	storetest.Put(t, s, "k", sampleEntry(), []byte("before"))
	invalidations := subscribe(t, ctx, s)

	srv.Stop()
	// The defaults: 1s to dial, 500ms to read or write, one retry. Redis
	// refusing connections fails at once; allow for a slow machine.
	const bound = time.Second
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error {
			_, body, err := s.Get(ctx, "k")
			if err == nil {
				body.Close()
			}
			return err
		}},
		{"Put and Commit", func() error {
			w, err := s.Put(ctx, "k", sampleEntry())
			if err != nil {
				return err
			}
			if _, err := w.Write(patternBody(300 << 10)); err != nil {
				return err
			}
			return w.Commit()
		}},
		{"Delete", func() error { return s.Delete(ctx, "k") }},
		{"DeletePrefix", func() error { _, err := s.DeletePrefix(ctx, "k"); return err }},
		{"DeleteTag", func() error { _, err := s.DeleteTag(ctx, "t"); return err }},
		{"TryLock", func() error { _, _, err := s.TryLock(ctx, "k", time.Second); return err }},
		{"Publish", func() error { return s.Publish(ctx, store.Invalidation{Keys: []string{"k"}}) }},
		{"Subscribe", func() error {
			return s.Subscribe(ctx, func(store.Invalidation) {})
		}},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with Redis down: error = %v, want a connection error", c.name, err)
		}
		if took > bound {
			t.Errorf("%s with Redis down took %v, want under %v", c.name, took, bound)
		}
		t.Logf("%s with Redis down: %v after %v", c.name, err, took.Round(time.Millisecond))
	}

	srv.Restart() // empty: no persistence
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := s.Get(ctx, "k")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get 5s after Redis restarted: %v, want ErrNotFound", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the client's reconnection
	}
	storetest.Put(t, s, "k", sampleEntry(), []byte("after"))
	if _, body := storetest.Get(t, s, "k"); string(body) != "after" {
		t.Errorf("body after the restart = %q, want %q", body, "after")
	}

	// The subscription comes back, first telling its subscriber to drop
	// everything, since messages sent meanwhile were lost.
	inv, ok := receive(t, invalidations, 5*time.Second)
	if !ok || len(inv.Prefixes) != 1 || inv.Prefixes[0] != "" {
		t.Fatalf("first invalidation after the restart = %+v, %v; want Prefixes [\"\"]", inv, ok)
	}
	want := store.Invalidation{Keys: []string{"after"}}
	if err := s.Publish(ctx, want); err != nil {
		t.Fatalf("Publish after the restart: %v", err)
	}
	if inv, ok := receive(t, invalidations, time.Second); !ok || len(inv.Keys) != 1 || inv.Keys[0] != "after" {
		t.Errorf("invalidation after the restart = %+v, %v; want %+v", inv, ok, want)
	}
}

// TestHungRedis freezes Redis with its connections open, the case that only
// timeouts catch: calls must fail within the read and write timeouts (one
// retry allowed), and work again once Redis resumes.
func TestHungRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	const timeout = 200 * time.Millisecond
	s := newStore(t, srv.Addr(), Options{DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout})
	ctx := t.Context()
	storetest.Put(t, s, "k", sampleEntry(), []byte("body"))

	srv.Pause()
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "k"); return err }},
		{"Put and Commit", func() error {
			w, err := s.Put(ctx, "k", sampleEntry())
			if err != nil {
				return err
			}
			if _, err := w.Write(patternBody(300 << 10)); err != nil {
				return err
			}
			return w.Commit()
		}},
		{"TryLock", func() error { _, _, err := s.TryLock(ctx, "k", time.Second); return err }},
	} {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with Redis hung: error = %v, want a timeout", c.name, err)
		}
		// Two attempts of a dial and a read or write each, and backoff.
		if bound := 5 * timeout; took > bound {
			t.Errorf("%s with Redis hung took %v, want under %v", c.name, took, bound)
		}
		t.Logf("%s with Redis hung: %v after %v", c.name, err, took.Round(time.Millisecond))
	}

	srv.Resume()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body, err := s.Get(ctx, "k")
		if err == nil {
			body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get 5s after Redis resumed: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the client's recovery
	}
}
