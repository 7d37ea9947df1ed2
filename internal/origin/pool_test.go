package origin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOriginConnectionsKeptAlive: requests one after another travel on one
// origin connection, and a response the origin marks Connection: close is
// not followed by another request on its connection.
func TestOriginConnectionsKeptAlive(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if strings.HasPrefix(req.URL.Path, "/close") {
				answer(c, req.URL.Path, "Connection: close\r\n")
				return
			}
			answer(c, req.URL.Path)
		}
	})
	c := newClient(t, o.URL())
	for i := range 5 {
		p := fmt.Sprintf("/k/%d", i)
		get(t, c, p, p)
	}
	if n := o.Accepts(); n != 1 {
		t.Errorf("5 requests opened %d origin connections, want 1", n)
	}
	get(t, c, "/close/a", "/close/a")
	get(t, c, "/close/b", "/close/b")
	get(t, c, "/k/last", "/k/last")
	if n := o.Accepts(); n != 3 {
		t.Errorf("origin connections = %d, want 3: each Connection: close answer ends its connection", n)
	}
}

// TestOriginClosesIdleConnection: an origin that closes keep-alive
// connections after each answer, without saying so, costs no request an
// error: a closed pooled connection is never used.
func TestOriginClosesIdleConnection(t *testing.T) {
	closed := make(chan struct{}, 32) // one send per connection: room for every one the test opens
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if req, ok := readRequest(br); ok {
			answer(c, req.URL.Path)
		}
		// Closed at once: the client still holds the connection as idle.
		c.Close()
		closed <- struct{}{}
	})
	c := newClient(t, o.URL())
	for i := range 10 {
		p := fmt.Sprintf("/idle/%d", i)
		get(t, c, p, p)
		<-closed // the origin has closed the connection the client keeps
	}
}

// TestOriginClosesAfterReadingRequest: a pooled connection that the origin
// closes as the next request arrives (read, never answered) is retried on
// a new connection for a GET, and not for a POST, which may have had an
// effect.
func TestOriginClosesAfterReadingRequest(t *testing.T) {
	var conns atomic.Int64
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		first := conns.Add(1) == 1
		for n := 0; ; n++ {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if first && n == 1 {
				return // the second request on the first connection is dropped
			}
			answer(c, req.URL.Path)
		}
	})
	c := newClient(t, o.URL())
	get(t, c, "/r/1", "/r/1")
	get(t, c, "/r/2", "/r/2")
	if n := o.Accepts(); n != 2 {
		t.Errorf("origin connections = %d, want 2 (the retry's)", n)
	}
}

// TestOriginUnsolicitedBytesNeverAnswerARequest: bytes an origin writes on
// an idle connection (here a 408, as some servers send before closing)
// are never taken for the answer to the next request.
func TestOriginUnsolicitedBytesNeverAnswerARequest(t *testing.T) {
	sent := make(chan struct{}, 1)
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		req, ok := readRequest(br)
		if !ok {
			return
		}
		answer(c, req.URL.Path)
		io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 7\r\n\r\ntimeout")
		select {
		case sent <- struct{}{}:
		default:
		}
		// Kept open, and never answering again, until the client closes
		// it: the client must not read the 408 as an answer.
		io.Copy(io.Discard, br)
	})
	c := newClient(t, o.URL())
	get(t, c, "/u/1", "/u/1")
	<-sent // the 408 is on its way to the client's idle connection
	get(t, c, "/u/2", "/u/2")
}

// TestOriginProtocolViolations: answers that break HTTP/1.1 are an *Error
// of Kind InvalidResponse, and leave no connection behind to answer the
// next request.
func TestOriginProtocolViolations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(c net.Conn)
		kind  Kind
	}{
		{"header over 1 MiB", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("f", 1000) + "\r\n"
			for range 1100 {
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
			io.WriteString(c, "Content-Length: 2\r\n\r\nok")
		}, InvalidResponse},
		{"endless interim responses", func(c net.Conn) {
			for range 100 {
				if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"); err != nil {
					return
				}
			}
		}, InvalidResponse},
		{"101 to a request without Upgrade", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		}, InvalidResponse},
		{"not HTTP", func(c net.Conn) {
			io.WriteString(c, "SSH-2.0-not-http\r\n\r\ngarbage garbage\r\n")
		}, InvalidResponse},
		// RFC 9110 §15: status codes run from 100 to 599; 099 is not an
		// interim response, and 600 is no class at all.
		{"status code below 100", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 099 X\r\nCache-Control: max-age=300\r\nContent-Length: 3\r\n\r\nabc")
		}, InvalidResponse},
		{"status code 000", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 000 X\r\nContent-Length: 3\r\n\r\nabc")
		}, InvalidResponse},
		{"status code 600", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 600 X\r\nCache-Control: max-age=300\r\nContent-Length: 3\r\n\r\nabc")
		}, InvalidResponse},
		{"closed before a whole status line", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 20")
		}, InvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
				if _, ok := readRequest(br); ok {
					tc.write(c)
				}
			})
			// One connection at most: a connection the failure left open
			// would hold it, and the later requests would wait for it.
			c := newClient(t, o.URL(), func(o *Options) { o.MaxBackoff = -1; o.MaxConns = 1 })
			for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
				_, _, err := fetch(t.Context(), c, method, "/v", nil)
				var e *Error
				if !errors.As(err, &e) || e.Kind != tc.kind {
					t.Errorf("%s: error %v, want an *Error of Kind %s", method, err, tc.kind)
				}
			}
		})
	}
}

// TestOriginBodyCutLeavesConnectionOut: a connection whose body was cut is
// never reused, and the next request gets a whole response.
func TestOriginBodyCutLeavesConnectionOut(t *testing.T) {
	var n atomic.Int64
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if n.Add(1) == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
				return
			}
			answer(c, req.URL.Path)
		}
	})
	c := newClient(t, o.URL())
	if _, body, err := fetch(t.Context(), c, http.MethodGet, "/cut", nil); err == nil {
		t.Errorf("a body cut at the origin read whole: %q", body)
	}
	get(t, c, "/cut", "/cut")
}

// TestOriginBodyEndsOnce: a body cut short keeps saying so on every read;
// it never turns into a clean end of stream.
func TestOriginBodyEndsOnce(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if _, ok := readRequest(br); ok {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
		}
	})
	c := newClient(t, o.URL())
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, o.URL().String()+"/", nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if string(b) != "half" || err == nil {
		t.Fatalf("ReadAll = %q, %v; want the half and an error", b, err)
	}
	for range 2 {
		if n, again := resp.Body.Read(make([]byte, 4)); n != 0 || again == nil || again == io.EOF {
			t.Errorf("Read after the cut = %d, %v; want 0 and the error", n, again)
		}
	}
	resp.Body.Close()
	if _, again := resp.Body.Read(make([]byte, 4)); again == nil || again == io.EOF {
		t.Errorf("Read after Close = %v, want an error", again)
	}
}

// TestOriginClientIdleTimeout: connections idle longer than
// IdleConnTimeout are closed, by the sweep and at the next use.
func TestOriginClientIdleTimeout(t *testing.T) {
	closed := make(chan struct{}, 4)
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				closed <- struct{}{}
				return
			}
			answer(c, req.URL.Path)
		}
	})
	c := newClient(t, o.URL(), func(o *Options) { o.IdleConnTimeout = 100 * time.Millisecond })
	get(t, c, "/t/1", "/t/1")
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle origin connection outlived IdleConnTimeout")
	}
	get(t, c, "/t/2", "/t/2")
	if n := o.Accepts(); n != 2 {
		t.Errorf("origin connections = %d, want 2", n)
	}
}

// TestReadable: an idle connection is not readable; one with bytes
// waiting, or closed by its peer, is.
func TestReadable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-accepted
	readable := newPeeker(c).readable
	if readable() {
		t.Errorf("an idle connection is readable")
	}
	peer.Write([]byte("x"))
	waitFor(t, readable, "a byte waiting is not seen")
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("the peeked byte was consumed: %q, %v", b, err)
	}
	if readable() {
		t.Errorf("readable after the only byte was read")
	}
	peer.Close()
	waitFor(t, readable, "the peer's close is not seen")
}

// TestCloseEndsOriginConnections: after Close, the idle connection to the
// origin is closed, and one whose exchange was under way is closed when it
// ends instead of going back to the pool.
func TestCloseEndsOriginConnections(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	ended := make(chan string, 2)
	slow := make(chan struct{})
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		var last string
		for {
			req, ok := readRequest(br)
			if !ok {
				ended <- last
				return
			}
			if last = req.URL.Path; last == "/slow" {
				close(slow)
				<-release
			}
			answer(c, last)
		}
	})
	c := newClient(t, o.URL())
	var wg sync.WaitGroup
	wg.Go(func() { get(t, c, "/slow", "/slow") })
	// Once /slow is at the origin, its exchange holds the first connection.
	<-slow
	get(t, c, "/idle", "/idle") // on a second connection, then idle
	c.Close()
	releaseOnce.Do(func() { close(release) })
	wg.Wait()
	var got []string
	for range 2 {
		select {
		case p := <-ended:
			got = append(got, p)
		case <-time.After(5 * time.Second):
			t.Fatalf("origin connections closed after Close: %v, want both", got)
		}
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[/idle /slow]" {
		t.Errorf("closed connections last served %v, want [/idle /slow]", got)
	}
	if _, _, err := fetch(t.Context(), c, http.MethodGet, "/after", nil); !errors.Is(err, errClientClosed) {
		t.Errorf("GET after Close: %v, want %v", err, errClientClosed)
	}
}

// countingOrigin is an httptest origin that records the most requests it
// had at once.
type countingOrigin struct {
	srv            *httptest.Server
	mu             sync.Mutex
	inFlight, most int // guarded by mu
	count          atomic.Int64
}

func newCountingOrigin(t *testing.T, hold time.Duration) *countingOrigin {
	o := &countingOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.count.Add(1)
		o.mu.Lock()
		o.inFlight++
		o.most = max(o.most, o.inFlight)
		o.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		// A slow origin: requests let through together overlap here, where
		// most counts them. A loaded machine only makes the overlap rarer.
		time.Sleep(hold)
		o.mu.Lock()
		o.inFlight--
		o.mu.Unlock()
		fmt.Fprint(w, "x")
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// TestOriginConnectionBound: with MaxConns 2, no more than two requests
// are at the origin at once.
func TestOriginConnectionBound(t *testing.T) {
	o := newCountingOrigin(t, 50*time.Millisecond)
	c := newClient(t, mustParse(t, o.srv.URL), func(opt *Options) { opt.MaxConns = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { get(t, c, fmt.Sprintf("/c/%d", i), "x") })
	}
	wg.Wait()
	if o.most > 2 {
		t.Errorf("%d requests at the origin at once, want at most 2", o.most)
	}
	if n := o.count.Load(); n != 8 {
		t.Errorf("origin requests = %d, want 8", n)
	}
}

// TestOriginBoundCoversRequestsWithBodies: requests with a body travel on
// the Transport, within the same bound: with MaxConns 1, a POST with a
// body and GETs are never at the origin together.
func TestOriginBoundCoversRequestsWithBodies(t *testing.T) {
	o := newCountingOrigin(t, 30*time.Millisecond)
	c := newClient(t, mustParse(t, o.srv.URL), func(opt *Options) { opt.MaxConns = 1 })
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { get(t, c, fmt.Sprintf("/g/%d", i), "x") })
		wg.Go(func() {
			if _, _, err := fetch(t.Context(), c, http.MethodPost, fmt.Sprintf("/p/%d", i), strings.NewReader("body")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if o.most > 1 {
		t.Errorf("%d requests at the origin at once, want at most 1", o.most)
	}
	if n := o.count.Load(); n != 6 {
		t.Errorf("origin requests = %d, want 6", n)
	}
}

// TestOriginBoundServesWaitersInTurn: with MaxConns 1, requests that wait
// for the connection get it in the order they came.
func TestOriginBoundServesWaitersInTurn(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	held := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(held)
			<-release
		}
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, mustParse(t, srv.URL), func(opt *Options) { opt.MaxConns = 1 })
	var wg sync.WaitGroup
	wg.Go(func() { get(t, c, "/hold", "") })
	<-held // /hold has the only connection
	for i := range 4 {
		wg.Go(func() { get(t, c, fmt.Sprintf("/w/%d", i), "") })
		waitFor(t, func() bool { return waiters(c) == i+1 }, "a request does not queue for the connection")
	}
	close(release)
	wg.Wait()
	if got, want := fmt.Sprint(order), "[/hold /w/0 /w/1 /w/2 /w/3]"; got != want {
		t.Errorf("origin saw %s, want %s", got, want)
	}
}

// TestOriginBoundGivesUpWithTheRequest: a request with a body that gives
// up while every slot is taken stops waiting for one, and leaves the
// connections of the other requests to be kept alive.
func TestOriginBoundGivesUpWithTheRequest(t *testing.T) {
	release := make(chan struct{})
	var count atomic.Int64
	holding := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		if r.URL.Path == "/hold" {
			close(holding)
			<-release
		}
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the origin closes, if the test fails
	c := newClient(t, mustParse(t, srv.URL), func(opt *Options) { opt.MaxConns = 1 })
	p := c.backends[0].pool
	held := make(chan error)
	go func() {
		_, _, err := fetch(t.Context(), c, http.MethodGet, "/hold", nil)
		held <- err
	}()
	<-holding // /hold has the only slot
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := fetch(ctx, c, http.MethodPost, "/post", strings.NewReader("b")); err == nil {
		t.Fatal("a POST got through while the only slot was taken")
	}
	waitFor(t, func() bool { return p.dialsWaiting.Load() == 0 }, "the POST's dial still waits for a slot")
	releaseOnce.Do(func() { close(release) })
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if _, _, err := fetch(t.Context(), c, http.MethodGet, "/after", nil); err != nil {
		t.Fatal(err)
	}
	if n := count.Load(); n != 2 {
		t.Errorf("origin requests = %d, want 2 (the POST never left)", n)
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle connections after the GETs, want 1: the connection was kept alive", idle)
	}
}

// TestOriginHandOverLooksAtTheConnection: a connection put back with bytes
// the origin left after the response (a HEAD answered with a body) is not
// handed to a waiting request, whose answer those bytes would become.
func TestOriginHandOverLooksAtTheConnection(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if req.URL.Path == "/hold" {
				close(holding)
				<-release
				// A HEAD's header, then a whole response nobody asked for.
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"+
					"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON")
				continue
			}
			answer(c, "REAL")
		}
	})
	c := newClient(t, o.URL(), func(opt *Options) { opt.MaxConns = 1 })
	roundTrip := func(method, path string) string {
		_, body, err := fetch(t.Context(), c, method, path, nil)
		if err != nil {
			return "error: " + err.Error()
		}
		return body
	}
	held := make(chan string)
	go func() { held <- roundTrip(http.MethodHead, "/hold") }()
	<-holding // the HEAD has the only connection
	waiter := make(chan string)
	go func() { waiter <- roundTrip(http.MethodGet, "/w") }()
	waitFor(t, func() bool { return waiters(c) == 1 }, "the GET does not wait for the only connection")
	releaseOnce.Do(func() { close(release) })
	<-held
	if got := <-waiter; got != "REAL" {
		t.Errorf("the waiting GET got %q, want REAL", got)
	}
}
