package redisstore

import (
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/redistest"
)

func TestTryLock(t *testing.T) {
	addr := redistest.Start(t)
	ctx := t.Context()
	// Two processes sharing a Redis: same prefix, different clients.
	a := newStore(t, addr, Options{Prefix: "lock:"})
	b := newStore(t, addr, Options{Prefix: "lock:"})

	unlockA, ok, err := a.TryLock(ctx, "k", time.Minute)
	if err != nil || !ok {
		t.Fatalf("a.TryLock(k) = %v, %v; want the lock", ok, err)
	}
	if d, err := a.rdb.PTTL(ctx, a.lockKey("k")).Result(); err != nil || d <= 0 || d > time.Minute {
		t.Errorf("PTTL of the lock = %v, %v; want at most a minute", d, err)
	}
	for name, s := range map[string]*Store{"a": a, "b": b} {
		unlock, ok, err := s.TryLock(ctx, "k", time.Minute)
		if err != nil || ok {
			t.Errorf("%s.TryLock(k) while a holds it = %v, %v; want false", name, ok, err)
		}
		unlock() // a no-op, and must not release a's lock
	}
	if _, ok, _ := b.TryLock(ctx, "other", time.Minute); !ok {
		t.Errorf("b.TryLock(other) = false; locks of different keys must not exclude each other")
	}

	unlockA()
	unlockA() // twice is harmless
	unlockB, ok, err := b.TryLock(ctx, "k", time.Minute)
	if err != nil || !ok {
		t.Fatalf("b.TryLock(k) after a's unlock = %v, %v; want the lock", ok, err)
	}
	unlockB()
}

// TestUnlockOnlyOwnLock pins unlock-by-token: a holder whose lock expired
// and was taken by another must not release the other's lock.
func TestUnlockOnlyOwnLock(t *testing.T) {
	addr := redistest.Start(t)
	ctx := t.Context()
	a := newStore(t, addr, Options{Prefix: "lock:"})
	b := newStore(t, addr, Options{Prefix: "lock:"})

	unlockA, ok, err := a.TryLock(ctx, "k", time.Minute)
	if err != nil || !ok {
		t.Fatalf("a.TryLock(k) = %v, %v; want the lock", ok, err)
	}
	// a's lock expires (deleting it stands for its TTL running out) and b
	// takes it.
	if err := a.rdb.Del(ctx, a.lockKey("k")).Err(); err != nil {
		t.Fatal(err)
	}
	unlockB, ok, err := b.TryLock(ctx, "k", time.Minute)
	if err != nil || !ok {
		t.Fatalf("b.TryLock(k) after a's lock expired = %v, %v; want the lock", ok, err)
	}
	unlockA()
	if _, ok, _ := a.TryLock(ctx, "k", time.Minute); ok {
		t.Fatalf("a's late unlock released b's lock")
	}
	unlockB()
	if _, ok, _ := a.TryLock(ctx, "k", time.Minute); !ok {
		t.Errorf("TryLock after b's unlock = false, want the lock")
	}
}

func TestTryLockRejectsTinyTTL(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{})
	unlock, ok, err := s.TryLock(t.Context(), "k", time.Microsecond)
	if err == nil || ok {
		t.Errorf("TryLock(ttl 1µs) = %v, %v; want an error", ok, err)
	}
	unlock()
}
