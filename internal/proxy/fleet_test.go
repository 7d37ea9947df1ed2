package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// lockingStore is a shared store with fill locks, as Redis is.
type lockingStore struct {
	store.Store
	mu      sync.Mutex
	locks   map[string]bool
	refused chan struct{} // if not nil, told (without blocking) of each lock refused
}

func (s *lockingStore) TryLock(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks[key] {
		select {
		case s.refused <- struct{}{}:
		default:
		}
		return func() {}, false, nil
	}
	s.locks[key] = true
	return func() { s.mu.Lock(); delete(s.locks, key); s.mu.Unlock() }, true, nil
}

// A node waiting for another node's fill stops waiting once the fill lock is
// free, even though no entry appeared (the response was uncacheable): it
// asks the origin itself then, not when its wait (min(OriginTimeout, 10s))
// runs out.
func TestFleetWaiterStopsWhenFillLockIsFreed(t *testing.T) {
	const originTimeout = 4 * time.Second // how long node B would wait for the lock
	var n atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		if n.Add(1) == 1 {
			close(arrived)
			<-release // node A holds the fill lock until the test lets it answer
		}
		w.Write([]byte("per user"))
	})
	mem, _ := memory.New(memory.Options{})
	shared := &lockingStore{Store: mem, locks: map[string]bool{}, refused: make(chan struct{}, 1)}
	u, _ := url.Parse(o.srv.URL)
	var fronts []*httptest.Server
	for range 2 {
		p, _ := New(Options{Origin: u, Store: shared, OriginTimeout: originTimeout})
		s := httptest.NewServer(p)
		defer s.Close()
		fronts = append(fronts, s)
	}
	var wg sync.WaitGroup
	answered := make([]time.Time, 2)
	for i, f := range fronts {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", f.URL+"/me", nil)
			req.Host = "site.example" // both nodes behind one load balancer
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			answered[i] = time.Now()
		})
		if i == 0 {
			<-arrived // node A holds the fill lock and is at the origin
		}
	}
	<-shared.refused // node B waits for the lock
	freed := time.Now()
	close(release)
	wg.Wait()
	lag := answered[1].Sub(freed)
	t.Logf("node B answered %v after node A's fill ended", lag)
	// Waiting out the lock would take the whole originTimeout; half of it
	// leaves room for a loaded machine.
	if lag > originTimeout/2 || n.Load() != 2 {
		t.Errorf("node B answered %v after the fill lock was freed, origin requests %d (want 2): it waited out the fill lock", lag, n.Load())
	}
}
