package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestStaleWhileRevalidate(t *testing.T) {
	var version atomic.Int64
	refreshed := make(chan struct{}, 4)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		v := version.Add(1)
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		fmt.Fprintf(w, "v%d", v)
		if v > 1 {
			refreshed <- struct{}{}
		}
	})
	h.get("/swr").expect(t, 200, "v1", "hoard; fwd=uri-miss")
	h.clock.Advance(20 * time.Second)
	// Stale within the window: served at once, refreshed in the background.
	h.get("/swr").expect(t, 200, "v1", "hoard; hit; ttl=-10; detail=stale-while-revalidate")
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatal("no background revalidation reached the origin")
	}
	h.proxy.background.Wait() // the refresh is stored
	h.get("/swr").expect(t, 200, "v2", "hoard; hit")
	// Past the window, the request waits for the origin.
	h.clock.Advance(100 * time.Second)
	h.get("/swr").expect(t, 200, "v3", "hoard; fwd=stale")
	h.wantOrigin(3)
}

func TestStaleIfError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cc       string
		grace    time.Duration
		age      time.Duration
		failWith int // 0: origin unreachable
		want     int
		status   string
	}{
		{"directive allows stale on 503", "max-age=10, stale-if-error=60", 0, 30 * time.Second, 503, 200, "hoard; fwd=stale; fwd-status=503; ttl=-20; detail=stale-if-error"},
		{"directive allows stale when unreachable", "max-age=10, stale-if-error=60", 0, 30 * time.Second, 0, 200, "hoard; fwd=stale; ttl=-20; detail=stale-if-error"},
		{"past the allowance the error passes", "max-age=10, stale-if-error=5", 0, 30 * time.Second, 503, 503, "hoard; fwd=stale; fwd-status=503"},
		{"default grace applies", "max-age=10", time.Minute, 30 * time.Second, 500, 200, "hoard; fwd=stale; fwd-status=500; ttl=-20; detail=stale-if-error"},
		{"directive overrides the grace", "max-age=10, stale-if-error=1", time.Minute, 30 * time.Second, 500, 500, "hoard; fwd=stale; fwd-status=500"},
		{"must-revalidate forbids it", "max-age=10, must-revalidate, stale-if-error=60", time.Minute, 30 * time.Second, 0, 504, "hoard; fwd=stale; detail=origin-unreachable"},
		{"s-maxage forbids it", "s-maxage=10, stale-if-error=60", time.Minute, 30 * time.Second, 503, 503, "hoard; fwd=stale; fwd-status=503"},
		{"no grace, no directive: unreachable is 502", "max-age=10", 0, 30 * time.Second, 0, 502, "hoard; fwd=stale; detail=origin-unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failing atomic.Bool
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					w.WriteHeader(tc.failWith)
					fmt.Fprint(w, "origin error")
					return
				}
				w.Header().Set("Cache-Control", tc.cc)
				w.Header().Set("ETag", `"1"`)
				fmt.Fprint(w, "good")
			}, func(o *Options) { o.StaleIfError = tc.grace })
			h.get("/sie")
			h.clock.Advance(tc.age)
			failing.Store(true)
			if tc.failWith == 0 {
				h.origin.srv.Close()
			}
			r := h.get("/sie")
			if r.status == 200 && r.body != "good" {
				t.Errorf("body %q, want the stale %q", r.body, "good")
			}
			r.expect(t, tc.want, "", tc.status)
		})
	}
}
