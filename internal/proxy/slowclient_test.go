package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/memory"
)

// patterned returns n bytes that differ from one offset to the next, so
// that a body shifted, cut or spliced does not compare equal.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>11)
	}
	return b
}

// newSmallStore returns a memory store that takes bodies of up to max
// bytes, as cli wires it for a MaxObjectSize of max.
func newSmallStore(t *testing.T, max int64) *memory.Store {
	t.Helper()
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20, MaxObjectSize: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fetched is what one client of a test got.
type fetched struct {
	body   []byte
	status string // Cache-Status
	err    error
}

// fetchAll GETs url with client and reads the whole body.
func fetchAll(ctx context.Context, client *http.Client, url string) fetched {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fetched{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fetched{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fetched{body: b, status: resp.Header.Get("Cache-Status"), err: err}
}

// flightOf returns the flight under way for path.
func flightOf(t *testing.T, h *harness, path string) *flight {
	t.Helper()
	h.proxy.flightsMu.Lock()
	defer h.proxy.flightsMu.Unlock()
	f := h.proxy.flights[primaryKeyFor(h, path)]
	if f == nil {
		t.Fatalf("no flight for %s", path)
	}
	return f
}

// waitFlight returns once cond holds of f (called under f.mu), which the
// flight signals by its changed channel.
func waitFlight(ctx context.Context, t *testing.T, f *flight, cond func(*flight) bool) {
	t.Helper()
	for {
		f.mu.Lock()
		ok, done, changed := cond(f), f.done, f.changed
		f.mu.Unlock()
		switch {
		case ok:
			return
		case done:
			t.Fatal("the flight ended before the condition held")
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("timed out waiting for the flight")
		}
	}
}

// proxyGoroutines returns the stacks of goroutines running the proxy's
// fills or flight readers.
func proxyGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "proxy.(*Handler).fillRest") || strings.Contains(g, "proxy.(*flightReader)") ||
			strings.Contains(g, "proxy.(*Handler).copyFlight") {
			found = append(found, g)
		}
	}
	return found
}

// TestStalledClientDoesNotStallTheFill: a client with a small receive
// buffer asks for a cold 12 MiB object and stops reading after the head.
// Six other clients of the URL (collapsed onto its fetch, or later hits)
// get the whole body promptly, the object is stored while the first client
// is still stalled, and once it hangs up nothing of the proxy is left
// running. Before, the fill went at the stalled client's pace: the others
// waited until it hung up.
func TestStalledClientDoesNotStallTheFill(t *testing.T) {
	body := patterned(12 << 20)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	addr := strings.TrimPrefix(h.front.URL, "http://")
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if err := stalled.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(stalled, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	head, err := http.ReadResponse(bufio.NewReader(stalled), nil)
	if err != nil {
		t.Fatal(err)
	}
	if head.StatusCode != http.StatusOK {
		t.Fatalf("stalled client: status %d", head.StatusCode)
	}
	// From here on the first client reads nothing.

	const others = 6
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: others}}
	defer client.CloseIdleConnections()
	results := make(chan fetched, others)
	for range others {
		go func() { results <- fetchAll(ctx, client, h.front.URL+"/big") }()
	}
	for i := range others {
		got := <-results
		if got.err != nil {
			t.Fatalf("client %d, while the first is stalled: %v (after %d bytes)", i, got.err, len(got.body))
		}
		if !bytes.Equal(got.body, body) {
			t.Fatalf("client %d: %d bytes, not the origin's %d", i, len(got.body), len(body))
		}
	}
	if got := fetchAll(ctx, client, h.front.URL+"/big"); got.err != nil || !strings.HasPrefix(got.status, "hoard; hit") {
		t.Errorf("a request while the first client is stalled: Cache-Status %q, error %v; want a hit", got.status, got.err)
	}
	h.wantOrigin(1)

	stalled.Close()
	h.front.Close() // waits for the stalled client's request to end
	closed := make(chan struct{})
	go func() {
		h.proxy.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Handler.Close did not return: a fill is still running")
	}
	if left := proxyGoroutines(); len(left) > 0 {
		t.Errorf("%d goroutines of the proxy left running:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// TestFollowersGetAllOfBodyOutgrowingMaxObjectSize: an unsized body that
// grows past MaxObjectSize mid-way is no longer stored, but every client
// of its flight gets all of it. Before, the followers were cut off where
// the store gave up.
func TestFollowersGetAllOfBodyOutgrowingMaxObjectSize(t *testing.T) {
	const piece = 16 << 10
	body := patterned(1 << 20)
	started := make(chan struct{})
	gate := make(chan struct{})
	quit := make(chan struct{}) // the test has ended: the origin stops waiting
	st := newSmallStore(t, 64<<10)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60") // no Content-Length: chunked
		w.Write(body[:piece])
		w.(http.Flusher).Flush()
		close(started)
		select {
		case <-gate:
		case <-quit:
			return
		}
		for off := piece; off < len(body); off += piece {
			w.Write(body[off : off+piece])
			w.(http.Flusher).Flush()
		}
	}, func(o *Options) {
		// as cli wires it: the store's bound is the proxy's
		o.MaxObjectSize = 64 << 10
		o.Store = st
	})
	t.Cleanup(func() { close(quit) })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()

	const followers = 5
	results := make(chan fetched, 1+followers)
	go func() { results <- fetchAll(ctx, client, h.front.URL+"/chunked") }()
	<-started
	f := flightOf(t, h, "/chunked")
	for range followers {
		go func() { results <- fetchAll(ctx, client, h.front.URL+"/chunked") }()
	}
	waitFlight(ctx, t, f, func(f *flight) bool { return f.followers == followers })
	close(gate)

	collapsed := 0
	for i := range 1 + followers {
		got := <-results
		if got.err != nil || !bytes.Equal(got.body, body) {
			t.Errorf("client %d: %d of %d bytes, error %v", i, len(got.body), len(body), got.err)
		}
		if strings.Contains(got.status, "collapsed") {
			collapsed++
		}
	}
	if collapsed != followers {
		t.Errorf("%d responses collapsed, want %d", collapsed, followers)
	}
	if n := st.Len(); n != 0 {
		t.Errorf("%d entries stored of a body over MaxObjectSize", n)
	}
	h.wantOrigin(1)
}

// TestSlowFollowerOfUnstoredBody: of a body that is not stored (it outgrew
// MaxObjectSize), the flight keeps only what its slowest reader has yet to
// read, at most MaxObjectSize. A slow follower that stays within that
// window does not hold back a fast one; one that stops reading holds the
// fill (and so the others) at the window's bound, and when it reads again
// everyone gets the whole body.
func TestSlowFollowerOfUnstoredBody(t *testing.T) {
	const (
		piece  = 16 << 10
		window = 64 << 10
		steps  = 32 // pieces sent in step with the readers; the rest at once
	)
	body := patterned(24 << 20) // more than the socket buffers between Hoard and a stalled client take
	started := make(chan struct{})
	next := make(chan struct{})
	free := make(chan struct{})
	quit := make(chan struct{}) // the test has ended: the origin stops waiting
	st := newSmallStore(t, window)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60") // no Content-Length: chunked
		for off := 0; off < len(body); off += piece {
			if off == piece {
				close(started)
			}
			if off > 0 {
				select {
				case <-next:
				case <-free:
				case <-quit:
					return
				}
			}
			w.Write(body[off : off+piece])
			w.(http.Flusher).Flush()
		}
	}, func(o *Options) {
		o.MaxObjectSize = window
		o.Store = st
	})
	t.Cleanup(func() { close(quit) })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	open := func(client *http.Client) io.ReadCloser {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL+"/window", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp.Body
	}
	fastClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer fastClient.CloseIdleConnections()
	// Not as small a receive buffer as the stalled client's above: one
	// below the loopback MSS is reopened only by the sender's zero-window
	// probes, which back off to minutes once the reader has stalled.
	slowClient := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(256 << 10)
			}
			return c, err
		},
	}}
	defer slowClient.CloseIdleConnections()

	leaderBody := make(chan io.ReadCloser, 1)
	go func() { leaderBody <- open(fastClient) }()
	<-started
	f := flightOf(t, h, "/window")
	full := make(chan struct{}, 1)
	f.mu.Lock()
	f.onFull = func() {
		select {
		case full <- struct{}{}:
		default:
		}
	}
	f.mu.Unlock()
	fast, slow := open(fastClient), open(slowClient)
	leader := <-leaderBody
	waitFlight(ctx, t, f, func(f *flight) bool { return f.followers == 2 })

	// In step: the fast clients read each piece as it comes, the slow one
	// every other piece, so it is never more than two pieces behind.
	readPieces := func(who string, r io.Reader, from, n int) {
		t.Helper()
		got := make([]byte, n*piece)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("%s, pieces %d to %d: %v", who, from, from+n-1, err)
		}
		if !bytes.Equal(got, body[from*piece:(from+n)*piece]) {
			t.Fatalf("%s, pieces %d to %d: not the origin's bytes", who, from, from+n-1)
		}
	}
	readPieces("leader", leader, 0, 1)
	readPieces("fast follower", fast, 0, 1)
	for i := 1; i < steps; i++ {
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("the origin did not take piece %d", i)
		}
		readPieces("leader", leader, i, 1)
		readPieces("fast follower", fast, i, 1)
		if i%2 == 1 {
			readPieces("slow follower", slow, i-1, 2)
		}
	}
	select {
	case <-full:
		t.Error("the fill waited for a follower that was within the window")
	default:
	}

	// The slow follower stops reading; the origin sends the rest at once.
	close(free)
	rest := make(chan fetched, 2)
	for _, r := range []io.Reader{leader, fast} {
		go func() {
			b, err := io.ReadAll(r)
			rest <- fetched{body: b, err: err}
		}()
	}
	select {
	case <-full:
	case got := <-rest:
		t.Fatalf("a fast client finished (%d bytes, %v) while the slow one stalled on %d MiB", len(got.body), got.err, len(body)>>20)
	case <-ctx.Done():
		t.Fatal("the fill never waited for the stalled follower")
	}
	f.mu.Lock()
	held, peak, bound := f.heldLocked(), f.peak, f.window
	f.mu.Unlock()
	if peak > window || bound != window {
		t.Errorf("the flight held up to %d bytes (now %d), window %d; want at most %d", peak, held, bound, window)
	}

	// It reads again: everyone gets the whole body.
	got, err := io.ReadAll(slow)
	if err != nil || !bytes.Equal(got, body[steps*piece:]) {
		t.Errorf("slow follower: %d of %d bytes after the stall, error %v", len(got), len(body)-steps*piece, err)
	}
	for range 2 {
		got := <-rest
		if got.err != nil || !bytes.Equal(got.body, body[steps*piece:]) {
			t.Errorf("fast client: %d of %d bytes after the stall, error %v", len(got.body), len(body)-steps*piece, got.err)
		}
	}
	f.mu.Lock()
	peak = f.peak
	f.mu.Unlock()
	if peak > window {
		t.Errorf("the flight held up to %d bytes, want at most %d", peak, window)
	}
	if n := st.Len(); n != 0 {
		t.Errorf("%d entries stored of a body over MaxObjectSize", n)
	}
	h.wantOrigin(1)
}
