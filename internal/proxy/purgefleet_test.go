package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/memory"
	redisstore "github.com/hoard-cache/hoard/internal/store/redis"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// newFleetNode is one Hoard node of a fleet: its own memory tier in front
// of the shared Redis at addr, served on a real socket, as
// hoard serve --store redis://addr runs it.
func newFleetNode(t *testing.T, o *testOrigin, addr string) *harness {
	t.Helper()
	back, err := redisstore.New(redisstore.Options{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	front, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st := tiered.New(front, back, nil)
	if err := st.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(o.srv.URL)
	p, err := New(Options{Origin: u, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, origin: o, proxy: p, front: newFrontEnd(t, p)}
}

// purgeReach bounds how long a purge on one node may take to reach the
// other node's memory tier through Redis: about a millisecond on an idle
// machine, and kept generous for a loaded one.
const purgeReach = 2 * time.Second

// fleetHost is the host name clients use for every node, as behind a load
// balancer: the cache key includes it.
const fleetHost = "www.fleet.test"

// fleetDo sends a request to a node for http://fleetHost/path.
func fleetDo(h *harness, method, path string, header ...string) result {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.front.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = fleetHost
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := h.front.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// held reports whether a node still serves path from its cache:
// only-if-cached answers 504 when nothing is stored.
func held(h *harness, path string) bool {
	return fleetDo(h, "GET", path, "Cache-Control", "only-if-cached").status != http.StatusGatewayTimeout
}

// TestURLPurgeReportsTheSharedTier: two nodes share a real Redis. A URL
// purge that reaches Redis succeeds and the other node stops serving the
// URL; one made while Redis is down fails, by PURGE and by Purge (the
// admin API's), and still removes the node's own copy.
func TestURLPurgeReportsTheSharedTier(t *testing.T) {
	redis := redistest.StartServer(t)
	o := newOrigin(t, nil, tagged)
	a, b := newFleetNode(t, o, redis.Addr()), newFleetNode(t, o, redis.Addr())
	warm := func(t *testing.T, path string) {
		t.Helper()
		fleetDo(a, "GET", path)
		for i, n := range []*harness{a, b} {
			if cs := fleetDo(n, "GET", path).header.Get("Cache-Status"); !strings.HasPrefix(cs, "hoard; hit") {
				t.Fatalf("node %d before the purge of %s: %q, want a hit", i, path, cs)
			}
		}
	}

	t.Run("Redis up", func(t *testing.T) {
		for _, purge := range []string{"PURGE", "Purge"} {
			path := "/up/" + purge
			warm(t, path)
			if purge == "PURGE" {
				fleetDo(a, "PURGE", path).expect(t, 200, `{"purged":1}`+"\n", "hoard; fwd=bypass; detail=purge")
			} else if n, err := a.proxy.Purge(t.Context(), Purge{URLs: []string{"http://" + fleetHost + path}}); n != 1 || err != nil {
				t.Errorf("Purge(%s) = %d, %v; want 1, nil", path, n, err)
			}
			start := time.Now()
			for held(a, path) || held(b, path) {
				if time.Since(start) > purgeReach {
					t.Fatalf("%s by %s: a node still serves it %v after the purge succeeded", path, purge, purgeReach)
				}
			}
		}
	})

	t.Run("Redis down", func(t *testing.T) {
		warm(t, "/down/PURGE")
		warm(t, "/down/Purge")
		redis.Stop()
		defer redis.Restart()

		res := fleetDo(a, "PURGE", "/down/PURGE")
		var body struct {
			Error  string
			Purged *int
		}
		if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != http.StatusServiceUnavailable || body.Error == "" {
			t.Errorf("PURGE with Redis down: %d %q; want 503 and a JSON error", res.status, res.body)
		}
		if n, err := a.proxy.Purge(t.Context(), Purge{URLs: []string{"http://" + fleetHost + "/down/Purge"}}); err == nil {
			t.Errorf("Purge with Redis down = %d, nil; want an error", n)
		}
		for _, path := range []string{"/down/PURGE", "/down/Purge"} {
			if held(a, path) {
				t.Errorf("%s: the purging node still serves it; its own copy must go even with Redis down", path)
			}
		}
	})
}
