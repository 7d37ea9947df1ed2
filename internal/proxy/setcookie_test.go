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

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/disk"
	redisstore "github.com/hoard-cache/hoard/internal/store/redis"
	"github.com/hoard-cache/hoard/internal/store/redistest"
)

// cookieOrigin answers every request with a fresh session cookie of its
// own, in a response a shared cache may store.
func cookieOrigin(extra func(w http.ResponseWriter, r *http.Request) bool) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", fmt.Sprintf("session=%d; Path=/; HttpOnly", n.Add(1)))
		w.Header().Set("Cache-Control", "max-age=300")
		if extra != nil && extra(w, r) {
			return
		}
		fmt.Fprint(w, "page")
	}
}

// storedHeader returns the header stored for path, failing when there is
// none.
func (h *harness) storedHeader(st store.Store, path string) http.Header {
	h.t.Helper()
	e, body, err := st.Get(h.t.Context(), primaryKeyFor(h, path))
	if err != nil {
		h.t.Fatalf("reading the stored %s: %v", path, err)
	}
	body.Close()
	return e.Header
}

// TestSetCookieNeverServedToAnother: a stored response keeps no
// Set-Cookie: the client whose request fetched it gets its cookie, the
// next client none. Found by a black-box probe: a response with Set-Cookie
// and max-age=300 was stored and its cookie served to a second client. The
// proxy builds the stored entry for every store; each is checked.
func TestSetCookieNeverServedToAnother(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memory", nil}, // the harness's own
		{"disk", func(t *testing.T) store.Store {
			st, err := disk.Open(disk.Options{Path: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"redis", func(t *testing.T) store.Store {
			st, err := redisstore.New(redisstore.Options{URL: "redis://" + redistest.Start(t) + "/0"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var st store.Store
			if tt.open != nil {
				st = tt.open(t)
			}
			h := newHarness(t, cookieOrigin(nil), func(o *Options) {
				if st != nil {
					o.Store = st
				}
			})
			if st == nil {
				st = h.store
			}
			first := h.get("/account")
			first.expect(t, 200, "page", "hoard; fwd=uri-miss; fwd-status=200; ttl=300; stored")
			if got := first.header.Values("Set-Cookie"); len(got) != 1 || got[0] != "session=1; Path=/; HttpOnly" {
				t.Errorf("the client whose request fetched the response got Set-Cookie %q, want its own session=1", got)
			}
			second := h.get("/account")
			second.expect(t, 200, "page", "hoard; hit")
			if got := second.header.Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("a second client, served from the store, got Set-Cookie %q, want none", got)
			}
			if got := h.storedHeader(st, "/account").Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("stored Set-Cookie %q, want none", got)
			}
			h.wantOrigin(1)
		})
	}
}

// TestSetCookieNotSharedWithCollapsedFollowers: a request that waits for
// another's fetch of the same URL is served from it without the cookie
// that fetch brought.
func TestSetCookieNotSharedWithCollapsedFollowers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := newHarness(t, cookieOrigin(func(w http.ResponseWriter, r *http.Request) bool {
		fmt.Fprint(w, "first;")
		w.(http.Flusher).Flush()
		close(started)
		<-release
		fmt.Fprint(w, "rest")
		return true
	}))
	leader, err := h.front.Client().Get(h.front.URL + "/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Body.Close()
	<-started
	// The leader's header has gone out and its body is on its way: the
	// follower joins the flight and is sent its header at once.
	follower, err := h.front.Client().Get(h.front.URL + "/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Body.Close()
	close(release)
	body, _ := io.ReadAll(follower.Body)
	if cs := follower.Header.Get("Cache-Status"); string(body) != "first;rest" || !strings.Contains(cs, "collapsed") {
		t.Fatalf("follower: body %q, Cache-Status %q; want the leader's response, collapsed", body, cs)
	}
	if got := follower.Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("a collapsed follower got the leader's Set-Cookie %q, want none", got)
	}
	io.ReadAll(leader.Body)
	if got := leader.Header.Values("Set-Cookie"); len(got) != 1 || got[0] != "session=1; Path=/; HttpOnly" {
		t.Errorf("the leader got Set-Cookie %q, want its own session=1", got)
	}
	h.wantOrigin(1)
}

// TestSetCookieOf304NotStored: a 304 that refreshes a stored response
// gives its Set-Cookie to the client that revalidated, and not to the
// stored header (RFC 9111 §3.2 would merge it there).
func TestSetCookieOf304NotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cookieOrigin(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
		return false
	}))
	h.get("/profile").expect(t, 200, "page", "hoard; fwd=uri-miss; fwd-status=200; ttl=10; stored")
	h.clock.Advance(11 * time.Second)
	revalidated := h.get("/profile")
	revalidated.expect(t, 200, "page", "hoard; fwd=stale; fwd-status=304; ttl=10; stored")
	if got := revalidated.header.Values("Set-Cookie"); len(got) != 1 || got[0] != "session=2; Path=/; HttpOnly" {
		t.Errorf("the client that revalidated got Set-Cookie %q, want the 304's session=2", got)
	}
	if got := h.storedHeader(h.store, "/profile").Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("after the 304, stored Set-Cookie %q, want none", got)
	}
	hit := h.get("/profile")
	hit.expect(t, 200, "page", "hoard; hit")
	if got := hit.header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("a client served the refreshed response got Set-Cookie %q, want none", got)
	}
	h.wantOrigin(2)
}

// TestStoredSetCookieOfAnOlderHoardNotServed: an entry stored with
// Set-Cookie (by a Hoard from before the rule, in a disk or Redis store
// that outlived it) is served without it.
func TestStoredSetCookieOfAnOlderHoardNotServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("origin asked for %s: the stored response is fresh", r.URL)
	})
	now := h.clock.Now()
	bw, err := h.store.Put(t.Context(), primaryKeyFor(h, "/old"), store.Entry{
		Status: 200,
		Header: http.Header{
			"Cache-Control": {"max-age=300"},
			"Date":          {now.UTC().Format(http.TimeFormat)},
			"Set-Cookie":    {"session=someone-else"},
		},
		RequestTime: now, ResponseTime: now, Expires: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(bw, "page")
	if err := bw.Commit(); err != nil {
		t.Fatal(err)
	}
	r := h.get("/old")
	r.expect(t, 200, "page", "hoard; hit")
	if got := r.header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("served Set-Cookie %q from an entry stored with it, want none", got)
	}
}

// Collapsed followers are not sent the fields that private="..." names: the
// leader's Set-Cookie is kept out of the store and out of the followers'
// responses alike (RFC 9111 §5.2.2.7).
func TestPrivateFieldsNotSentToFollowers(t *testing.T) {
	var n atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=60, private="Set-Cookie"`)
		id := n.Add(1)
		w.Header().Set("Set-Cookie", fmt.Sprintf("session=user%d", id))
		if id == 1 {
			close(arrived)
			<-release // the leader's answer waits until the follower joins
		}
		w.Write([]byte("page"))
	})
	var wg sync.WaitGroup
	cookies := make([]string, 2)
	for i := range 2 {
		if i == 1 {
			<-arrived // the first client leads
		}
		wg.Go(func() {
			resp, err := http.Get(h.front.URL + "/account")
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			cookies[i] = resp.Header.Get("Set-Cookie") + " / " + resp.Header.Get("Cache-Status")
		})
	}
	waitFlight(t.Context(), t, flightOf(t, h, "/account"), func(f *flight) bool { return f.followers == 1 })
	close(release)
	wg.Wait()
	t.Logf("leader: %s; follower: %s", cookies[0], cookies[1])
	if strings.HasPrefix(cookies[1], "session=") {
		t.Errorf("the follower received the leader's private Set-Cookie")
	}
	h.get("/account").expect(t, 200, "page", "hoard; hit")
}
