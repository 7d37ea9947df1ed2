package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

type countingStore struct {
	store.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// An entry read from the back tier is promoted to the memory tier even when
// the proxy does not read its body to the end (a Vary index, HEAD, a 304 to
// a conditional request, a Range): repeated such requests are answered from
// memory, without a back-tier (Redis) round trip each.
func TestTierPromotesEntriesWithUnreadBodies(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Vary", "Accept-Encoding")
		w.Write([]byte("body"))
	})
	front, _ := memory.New(memory.Options{})
	backMem, _ := memory.New(memory.Options{})
	back := &countingStore{Store: backMem}
	u, _ := url.Parse(o.srv.URL)
	p, err := New(Options{Origin: u, Store: tiered.New(front, back, nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func(h ...string) {
		req, _ := http.NewRequest("GET", srv.URL+"/v", nil)
		for i := 0; i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	get() // stored in both tiers
	// A second process (or a restart with a disk store): empty memory tier,
	// same back tier.
	front2, _ := memory.New(memory.Options{})
	p2, _ := New(Options{Origin: u, Store: tiered.New(front2, back, nil)})
	srv.Config.Handler = p2
	get()
	before := back.gets.Load()
	for range 10 {
		get("If-None-Match", `"e"`)
	}
	if n := back.gets.Load() - before; n > 0 {
		t.Errorf("10 hits answered from memory made %d back-tier reads", n)
	}
}
