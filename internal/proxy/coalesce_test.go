package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// getAll sends n concurrent GETs for path and returns the bodies and
// Cache-Status values.
func getAll(t *testing.T, h *harness, n int, path string) (bodies, statuses []string) {
	t.Helper()
	bodies, statuses = make([]string, n), make([]string, n)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	for i := range n {
		wg.Go(func() {
			resp, err := client.Get(h.front.URL + path)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Errorf("client %d: body: %v", i, err)
			}
			bodies[i], statuses[i] = string(b), resp.Header.Get("Cache-Status")
		})
	}
	wg.Wait()
	return bodies, statuses
}

// TestCoalescing200ClientsOneOriginRequest: 200 concurrent clients on a
// cold URL whose origin is slow make exactly one origin request.
func TestCoalescing200ClientsOneOriginRequest(t *testing.T) {
	const clients = 200
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release // a slow origin: it answers once every other client has followed
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "shared body")
	})
	var bodies, statuses []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		bodies, statuses = getAll(t, h, clients, "/cold")
	}()
	<-arrived
	waitFlight(t.Context(), t, flightOf(t, h, "/cold"), func(f *flight) bool { return f.followers == clients-1 })
	close(release)
	<-done
	collapsed := 0
	for i, b := range bodies {
		if b != "shared body" {
			t.Errorf("client %d got %q", i, b)
		}
		if strings.Contains(statuses[i], "collapsed") {
			collapsed++
		}
	}
	h.wantOrigin(1)
	if collapsed == 0 {
		t.Errorf("no response says collapsed: %q", statuses[0])
	}
}

// TestCoalescedFollowersStream: a follower sees the first bytes of the
// body before the origin has sent the rest.
func TestCoalescedFollowersStream(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "first;")
		w.(http.Flusher).Flush()
		close(started)
		<-release
		fmt.Fprint(w, "rest")
	})
	leader, err := http.Get(h.front.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Body.Close()
	<-started
	follower, err := http.Get(h.front.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Body.Close()
	br := bufio.NewReader(follower.Body)
	first, err := br.ReadString(';')
	if err != nil || first != "first;" {
		t.Fatalf("follower read %q, %v before the origin finished", first, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "rest" || !strings.Contains(follower.Header.Get("Cache-Status"), "collapsed") {
		t.Errorf("follower: rest %q, Cache-Status %q", rest, follower.Header.Get("Cache-Status"))
	}
	if b, _ := io.ReadAll(leader.Body); string(b) != "first;rest" {
		t.Errorf("leader body %q", b)
	}
	h.wantOrigin(1)
}

// TestLateFollowerOfSmallBodyGetsItFromTheStore: a small body whose first
// bytes went by before anyone followed is not kept for followers; one that
// joins then waits for the rest and is answered from the store, whole, as
// collapsed.
func TestLateFollowerOfSmallBodyGetsItFromTheStore(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "10")
		fmt.Fprint(w, "first;")
		w.(http.Flusher).Flush()
		close(started)
		<-release
		fmt.Fprint(w, "rest")
	})
	leader, err := http.Get(h.front.URL + "/late")
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Body.Close()
	<-started
	type answer struct {
		body, status string
		err          error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get(h.front.URL + "/late")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{string(b), resp.Header.Get("Cache-Status"), err}
	}()
	select {
	case a := <-got:
		t.Fatalf("the late follower was answered (%q, %v) before the origin finished", a.body, a.err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	a := <-got
	if a.err != nil || a.body != "first;rest" || !strings.Contains(a.status, "collapsed") {
		t.Errorf("late follower: body %q, Cache-Status %q, error %v; want the whole body, collapsed", a.body, a.status, a.err)
	}
	if b, _ := io.ReadAll(leader.Body); string(b) != "first;rest" {
		t.Errorf("leader body %q", b)
	}
	h.wantOrigin(1)
}

// TestLateFollowersOfNoCacheResponseStayCollapsed: late followers of a
// response that must be validated before each reuse (no-cache), and of a
// reload (a request with no-cache), get the leader's response rather than
// going to the origin one by one.
func TestLateFollowersOfNoCacheResponseStayCollapsed(t *testing.T) {
	for _, tc := range []struct {
		name, respCC, reqCC string
	}{
		{"no-cache response", "no-cache", ""},
		{"reloading clients", "max-age=60", "no-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", tc.respCC)
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Content-Length", "10")
				fmt.Fprint(w, "first;")
				w.(http.Flusher).Flush()
				select {
				case started <- struct{}{}:
				default: // not the leader's request
				}
				<-release
				fmt.Fprint(w, "rest")
			})
			get := func() (string, string, error) {
				req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/nc", nil)
				if tc.reqCC != "" {
					req.Header.Set("Cache-Control", tc.reqCC)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return "", "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), resp.Header.Get("Cache-Status"), err
			}
			leader := make(chan error, 1)
			go func() {
				body, _, err := get()
				if err == nil && body != "first;rest" {
					err = fmt.Errorf("leader body %q", body)
				}
				leader <- err
			}()
			<-started
			const followers = 5
			var wg sync.WaitGroup
			bodies, statuses := make([]string, followers), make([]string, followers)
			for i := range followers {
				wg.Go(func() {
					var err error
					bodies[i], statuses[i], err = get()
					if err != nil {
						t.Errorf("follower %d: %v", i, err)
					}
				})
			}
			waitFlight(t.Context(), t, flightOf(t, h, "/nc"), func(f *flight) bool { return f.followers == followers })
			close(release)
			wg.Wait()
			if err := <-leader; err != nil {
				t.Fatal(err)
			}
			for i := range followers {
				if bodies[i] != "first;rest" || !strings.Contains(statuses[i], "collapsed") {
					t.Errorf("follower %d: body %q, Cache-Status %q; want the leader's response, collapsed", i, bodies[i], statuses[i])
				}
			}
			h.wantOrigin(1)
		})
	}
}

// TestUncacheableFollowersGoAlone: when the shared response is not
// storable, the waiting requests each go to the origin, and later requests
// for the key are not queued behind one another.
func TestUncacheableFollowersGoAlone(t *testing.T) {
	var mu sync.Mutex
	n := 0
	arrived, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		id := n
		mu.Unlock()
		if id == 1 {
			close(arrived)
			<-release // the leader's answer waits until the others follow
		}
		w.Header().Set("Cache-Control", "private")
		fmt.Fprintf(w, "response %d", id)
	})
	var bodies []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		bodies, _ = getAll(t, h, 5, "/p")
	}()
	<-arrived
	waitFlight(t.Context(), t, flightOf(t, h, "/p"), func(f *flight) bool { return f.followers == 4 })
	close(release)
	<-done
	seen := map[string]bool{}
	for _, b := range bodies {
		seen[b] = true
	}
	if len(seen) != 5 {
		t.Errorf("private responses shared between clients: %v", bodies)
	}
	h.wantOrigin(5)
	if f, _, _ := h.proxy.join(primaryKeyFor(h, "/p")); f != nil {
		t.Errorf("an uncacheable key is coalesced again right away")
	}
}

func primaryKeyFor(h *harness, path string) string {
	return keyFor("http", strings.TrimPrefix(h.front.URL, "http://"), path)
}

// TestLeaderHangupDoesNotCancelFetch: the client whose request leads a fetch
// leaves before the origin answers; the fetch goes on for the others
func TestLeaderHangupDoesNotCancelFetch(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release // answers after the leader's client has gone
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "done")
	})
	// The leader's client comes through a front end of its own, which
	// reports when the server has seen the client go.
	gone := make(chan struct{})
	leaderFront := newFrontEnd(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		context.AfterFunc(r.Context(), func() { close(gone) })
		h.proxy.ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, leaderFront.URL+"/h", nil)
	req.Host = strings.TrimPrefix(h.front.URL, "http://") // the key of the requests below
	errc := make(chan error, 1)
	go func() {
		resp, err := leaderFront.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived // the first client leads the fetch
	cancel()
	<-errc
	<-gone
	close(release)
	h.get("/h").expect(t, 200, "done", "hoard;")
	h.get("/h").expect(t, 200, "done", "hoard; hit")
	h.wantOrigin(1)
}

// TestFlightKeepsItsOwnVaryFields: followers check their request against
// the Vary fields of the leader's, possibly after the leader's request is
// done with and the front end has cleared its header map for the
// connection's next request: the flight keeps a copy.
func TestFlightKeepsItsOwnVaryFields(t *testing.T) {
	f := newFlight("k")
	leader, _ := http.NewRequest(http.MethodGet, "http://hoard.test/", nil)
	leader.Header.Set("Accept-Language", "fr")
	leader.Header.Set("User-Agent", "t")
	f.publish(leader, response{status: 200, header: http.Header{"Vary": {"accept-language"}}}, true, httpcache.CacheStatus{})
	clear(leader.Header)
	follower := http.Header{"Accept-Language": {"fr"}}
	if !httpcache.VaryMatches(httpcache.VaryNames(f.header), f.reqHeader, follower) {
		t.Errorf("a follower asking for fr does not match the flight's fr: kept %v", f.reqHeader)
	}
	if len(f.reqHeader) != 1 {
		t.Errorf("the flight keeps %v, want the Vary field alone", f.reqHeader)
	}
}

// A flight keeps at most MaxObjectSize of a body it does not store: a
// cacheable chunked response larger than MaxObjectSize, which the store
// refuses (ErrTooLarge), streams to the leader without being buffered whole.
func TestFlightBufferBounded(t *testing.T) {
	first := make(chan struct{}) // the origin waits after its first chunk: the flight is still in the table
	sent := make(chan struct{})
	release := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60") // no Content-Length: chunked
		chunk := make([]byte, 64<<10)
		w.Write(chunk)
		w.(http.Flusher).Flush()
		<-first
		for i := 1; i < 8<<20/len(chunk); i++ {
			w.Write(chunk)
		}
		w.(http.Flusher).Flush()
		close(sent)
		<-release
	}, func(o *Options) {
		// as cli wires it: the store's bound is the proxy's
		o.MaxObjectSize = 1 << 20
		o.Store, _ = memory.New(memory.Options{MaxBytes: 64 << 20, MaxObjectSize: 1 << 20})
	})
	resp, err := http.Get(h.front.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h.proxy.flightsMu.Lock()
	f := h.proxy.flights[primaryKey(&http.Request{Host: strings.TrimPrefix(h.front.URL, "http://"), RequestURI: "/big"})]
	h.proxy.flightsMu.Unlock()
	close(first)
	buf := make([]byte, 8<<20)
	io.ReadFull(resp.Body, buf)
	<-sent
	close(release)
	if f == nil {
		t.Fatal("no flight")
	}
	f.mu.Lock()
	n := f.peak
	f.mu.Unlock()
	if n > 1<<20 {
		t.Errorf("flight buffered %d bytes for a response over MaxObjectSize (1 MiB) that is not being stored", n)
	}
}
