package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// lockingStore is a shared store with fill locks, as Redis is.
type lockingStore struct {
	store.Store
	mu    sync.Mutex
	locks map[string]bool
}

func (s *lockingStore) TryLock(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks[key] {
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
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte("per user"))
	})
	mem, _ := memory.New(memory.Options{})
	shared := &lockingStore{Store: mem, locks: map[string]bool{}}
	u, _ := url.Parse(o.srv.URL)
	var fronts []*httptest.Server
	for range 2 {
		p, _ := New(Options{Origin: u, Store: shared, OriginTimeout: 3 * time.Second})
		s := httptest.NewServer(p)
		defer s.Close()
		fronts = append(fronts, s)
	}
	var wg sync.WaitGroup
	took := make([]time.Duration, 2)
	for i, f := range fronts {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			start := time.Now()
			req, _ := http.NewRequest("GET", f.URL+"/me", nil)
			req.Host = "site.example" // both nodes behind one load balancer
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	t.Logf("node A %v, node B %v", took[0], took[1])
	if took[1] > time.Second {
		t.Errorf("node B took %v for a 200 ms origin: it waited out the fill lock", took[1])
	}
}
