package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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

// When the origin hangs, the leader waits OriginTimeout and serves stale
// (stale-if-error), and its followers are served the same with it: the
// origin is asked once, and no follower waits a second OriginTimeout.
func TestStaleIfErrorServesFollowersWithTheLeader(t *testing.T) {
	const originTimeout = time.Second
	var n atomic.Int32
	hung := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if id := n.Add(1); id > 1 {
			if id == 2 {
				close(hung)
			}
			<-r.Context().Done() // hangs until Hoard gives up on it
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
		w.Write([]byte("v1"))
	}, func(o *Options) { o.OriginTimeout = originTimeout })
	h.get("/sie")
	h.clock.Advance(5 * time.Second)
	answered := make([]time.Time, 4) // client 0 leads, the others follow
	var wg sync.WaitGroup
	ask := func(i int) {
		wg.Go(func() {
			r := h.get("/sie")
			answered[i] = time.Now()
			if r.body != "v1" {
				t.Errorf("client %d: %d %q", i, r.status, r.body)
			}
		})
	}
	ask(0)
	<-hung
	f := flightOf(t, h, "/sie")
	for i := 1; i < len(answered); i++ {
		ask(i)
	}
	waitFlight(t.Context(), t, f, func(f *flight) bool { return f.followers == len(answered)-1 })
	wg.Wait()
	var lag time.Duration // how long after the leader the last follower was answered
	for _, at := range answered[1:] {
		lag = max(lag, at.Sub(answered[0]))
	}
	t.Logf("last follower %v after the leader, origin requests %d", lag, n.Load())
	// A second OriginTimeout would put the followers a whole second behind;
	// half of one leaves room for a loaded machine.
	if n.Load() != 2 || lag > originTimeout/2 {
		t.Errorf("followers: %d origin requests (want 2), answered up to %v after the leader with OriginTimeout %v", n.Load(), lag, originTimeout)
	}
}

// A background refresh (stale-while-revalidate) never touches the
// connection of the client whose request started it, even when it falls
// back on the stale response (stale-if-error): the server goes on writing
// the next responses on that connection meanwhile. Run with -race.
func TestBackgroundRefreshLeavesClientConnectionAlone(t *testing.T) {
	body := strings.Repeat("b", 8<<10) // large enough to be gathered
	var calls atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			http.Error(w, "origin down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600, stale-if-error=600")
		fmt.Fprint(w, body)
	})
	h.get("/swr")
	h.clock.Advance(2 * time.Second)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 40 {
		resp, err := client.Get(h.front.URL + "/swr")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(b) != body {
			t.Fatalf("request %d: status %d, %d body bytes (whole: %v), error %v",
				i, resp.StatusCode, len(b), string(b) == body, err)
		}
	}
	client.CloseIdleConnections()
	h.front.Close() // waits for the last handler, which may start a refresh after its response went out
	h.proxy.Close() // waits for the refreshes
	if calls.Load() < 2 {
		t.Fatalf("the origin saw %d requests: no background refresh ran", calls.Load())
	}
}

// A body that breaks during a background refresh (stale-while-revalidate)
// ends that refresh alone: the refresh's goroutine, which no http.Server
// recovers, does not panic with http.ErrAbortHandler, and the process lives.
func TestBackgroundRefreshBrokenBodyIsContained(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		if n.Add(1) == 1 {
			w.Write([]byte("v1"))
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only ten b"))
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close() // cut mid-body
	})
	h.get("/swr").expect(t, 200, "v1", "hoard; fwd=uri-miss")
	h.clock.Advance(2 * time.Second)
	h.get("/swr").expect(t, 200, "v1", "hoard; hit")
	h.front.Close() // waits for the handler, which may start the refresh after its response went out
	h.proxy.Close() // waits for the refresh: a panic in it ends the process here
	if n.Load() < 2 {
		t.Fatalf("the origin saw %d requests: no background refresh ran", n.Load())
	}
}
