package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawOrigin is an origin written by hand on a TCP listener, for what a
// well-behaved server never does. serve is called once per accepted
// connection and owns it.
type rawOrigin struct {
	ln      net.Listener
	accepts atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn // guarded by mu; closed at the end of the test
}

func newRawOrigin(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) *rawOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln}
	o.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.accepts.Add(1)
			o.mu.Lock()
			o.conns = append(o.conns, c)
			o.mu.Unlock()
			o.wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for _, c := range o.conns {
			c.Close() // the proxy may keep some idle: serve must not wait for them
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

// readRequest reads one request head from br; false at end of stream.
func readRequest(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	io.Copy(io.Discard, req.Body)
	return req, true
}

func answer(c net.Conn, body string, extra ...string) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: %d\r\n%s\r\n%s",
		len(body), strings.Join(extra, ""), body)
}

func (o *rawOrigin) harness(t *testing.T, opts ...func(*Options)) *harness {
	t.Helper()
	addr := o.ln.Addr().String()
	return newHarness(t, func(http.ResponseWriter, *http.Request) {},
		append([]func(*Options){func(opt *Options) { opt.Origin.Host = addr }}, opts...)...)
}

// TestOriginConnectionsKeptAlive: misses one after another travel on one
// origin connection, and a response the origin marks Connection: close is
// not followed by another request on its connection.
func TestOriginConnectionsKeptAlive(t *testing.T) {
	var served atomic.Int64
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			served.Add(1)
			if strings.HasPrefix(req.URL.Path, "/close") {
				answer(c, req.URL.Path, "Connection: close\r\n")
				return
			}
			answer(c, req.URL.Path)
		}
	})
	h := o.harness(t)
	for i := range 5 {
		p := fmt.Sprintf("/k/%d", i)
		h.get(p).expect(t, 200, p, "hoard; fwd=uri-miss; fwd-status=200")
	}
	if n := o.accepts.Load(); n != 1 {
		t.Errorf("5 misses opened %d origin connections, want 1", n)
	}
	h.get("/close/a").expect(t, 200, "/close/a", "hoard; fwd=uri-miss")
	h.get("/close/b").expect(t, 200, "/close/b", "hoard; fwd=uri-miss")
	h.get("/k/last").expect(t, 200, "/k/last", "hoard; fwd=uri-miss")
	if n := o.accepts.Load(); n != 3 {
		t.Errorf("origin connections = %d, want 3: each Connection: close answer ends its connection", n)
	}
}

// TestOriginClosesIdleConnection: an origin that closes keep-alive
// connections after each answer, without saying so, costs no client an
// error: a closed pooled connection is never used.
func TestOriginClosesIdleConnection(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if req, ok := readRequest(br); ok {
			answer(c, req.URL.Path)
		}
		// Closed on return: the proxy still holds the connection as idle.
	})
	h := o.harness(t)
	for i := range 10 {
		p := fmt.Sprintf("/idle/%d", i)
		h.get(p).expect(t, 200, p, "hoard; fwd=uri-miss; fwd-status=200")
		time.Sleep(5 * time.Millisecond) // the close reaches the proxy's side
	}
}

// TestOriginClosesAfterReadingRequest: a pooled connection that the origin
// closes as the next request arrives (read, never answered) is retried on
// a new connection for a GET.
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
	h := o.harness(t)
	h.get("/r/1").expect(t, 200, "/r/1", "hoard; fwd=uri-miss")
	h.get("/r/2").expect(t, 200, "/r/2", "hoard; fwd=uri-miss")
	if n := o.accepts.Load(); n != 2 {
		t.Errorf("origin connections = %d, want 2 (the retry's)", n)
	}
}

// TestOriginUnsolicitedBytesNeverAnswerARequest: bytes an origin writes on
// an idle connection (here a 408, as some servers send before closing)
// are never taken for the answer to the next request.
func TestOriginUnsolicitedBytesNeverAnswerARequest(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		req, ok := readRequest(br)
		if !ok {
			return
		}
		answer(c, req.URL.Path)
		io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 7\r\n\r\ntimeout")
		// Kept open: the client must not read the 408 as an answer.
		time.Sleep(500 * time.Millisecond)
	})
	h := o.harness(t)
	h.get("/u/1").expect(t, 200, "/u/1", "hoard; fwd=uri-miss")
	time.Sleep(20 * time.Millisecond)
	h.get("/u/2").expect(t, 200, "/u/2", "hoard; fwd=uri-miss")
}

// TestOriginProtocolViolations: answers that break HTTP/1.1 get the client
// a 502 and store nothing.
func TestOriginProtocolViolations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(c net.Conn)
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
		}},
		{"endless interim responses", func(c net.Conn) {
			for range 100 {
				if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"); err != nil {
					return
				}
			}
		}},
		{"101 to a request without Upgrade", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		}},
		{"closed before a whole status line", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 20")
		}},
		// RFC 9110 §15: status codes run from 100 to 599; 099 is not an
		// interim response, and 600 is no class at all.
		{"status code below 100", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 099 X\r\nCache-Control: max-age=300\r\nContent-Length: 3\r\n\r\nabc")
		}},
		{"status code 000", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 000 X\r\nContent-Length: 3\r\n\r\nabc")
		}},
		{"status code 600", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 600 X\r\nCache-Control: max-age=300\r\nContent-Length: 3\r\n\r\nabc")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
				if _, ok := readRequest(br); ok {
					tc.write(c)
				}
			})
			// One connection at most: a connection the failure left open
			// would hold it, and the later requests would wait for it.
			h := o.harness(t, func(opt *Options) { opt.MaxBackoff = -1; opt.MaxOriginConns = 1 })
			for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
				h.do(method, "/v").expect(t, 502, "origin sent an invalid response\n",
					"hoard; fwd=")
			}
			h.get("/v").expect(t, 502, "", "hoard; fwd=uri-miss; detail=origin-invalid-response")
			if n := h.store.Len(); n != 0 {
				t.Errorf("%d entries stored", n)
			}
		})
	}
}

// TestOriginBodyCutLeavesConnectionOut: a connection whose body was cut is
// never reused, and the next miss gets a whole response.
func TestOriginBodyCutLeavesConnectionOut(t *testing.T) {
	var n atomic.Int64
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if n.Add(1) == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nhalf")
				return
			}
			answer(c, req.URL.Path)
		}
	})
	h := o.harness(t)
	resp, err := http.Get(h.front.URL + "/cut")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("a body cut at the origin reached the client whole")
	}
	h.get("/cut").expect(t, 200, "/cut", "hoard; fwd=uri-miss; fwd-status=200; ttl=60; stored")
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
	h := o.harness(t, func(opt *Options) { opt.IdleConnTimeout = 100 * time.Millisecond })
	h.get("/t/1").expect(t, 200, "/t/1", "hoard; fwd=uri-miss")
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle origin connection outlived IdleConnTimeout")
	}
	h.get("/t/2").expect(t, 200, "/t/2", "hoard; fwd=uri-miss")
	if n := o.accepts.Load(); n != 2 {
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

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}

// TestOriginBoundWithClosingOrigin: with MaxOriginConns, connections the
// origin closes, the idle sweep closes, or Close closes give their slots
// back, and nothing waits for good.
func TestOriginBoundWithClosingOrigin(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if req, ok := readRequest(br); ok {
			answer(c, req.URL.Path) // then closed, unannounced
		}
	})
	h := o.harness(t, func(opt *Options) {
		opt.MaxOriginConns = 2
		opt.IdleConnTimeout = 50 * time.Millisecond
	})
	for i := range 6 {
		p := fmt.Sprintf("/b/%d", i)
		h.get(p).expect(t, 200, p, "hoard; fwd=uri-miss")
		if i%2 == 1 {
			time.Sleep(120 * time.Millisecond) // the sweep runs
		}
	}
	closed := make(chan struct{})
	go func() { h.proxy.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Handler.Close hung")
	}
}

// TestOriginBoundCoversRequestsWithBodies: requests with a body travel on
// another pool, within the same bound: with MaxOriginConns 1, a POST with
// a body and GETs are never at the origin together.
func TestOriginBoundCoversRequestsWithBodies(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Cache-Control", "private")
		fmt.Fprint(w, "x")
	}, func(o *Options) { o.MaxOriginConns = 1 })
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { h.get(fmt.Sprintf("/g/%d", i)) })
		wg.Go(func() {
			resp, err := http.Post(h.front.URL+fmt.Sprintf("/p/%d", i), "text/plain", strings.NewReader("body"))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if most > 1 {
		t.Errorf("%d requests at the origin at once, want at most 1", most)
	}
	h.wantOrigin(6)
}

// TestOriginBodyEndsOnce: a body cut short keeps saying so on every read;
// it never turns into a clean end of stream.
func TestOriginBodyEndsOnce(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		if _, ok := readRequest(br); ok {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
		}
	})
	addr := o.ln.Addr().String()
	u, _ := url.Parse("http://" + addr + "/")
	c := newOriginClient(addr, addr, Options{IdleConnTimeout: time.Minute}, http.DefaultTransport)
	defer c.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String(), nil)
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

// TestUserAgentPassedAsSent: the origin sees the client's User-Agent, and
// none when the client sent none (not the name of Go's HTTP client), on
// requests with and without a body.
func TestUserAgentPassedAsSent(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ua, ok := r.Header["User-Agent"]
		seen = append(seen, fmt.Sprintf("%s %v %q", r.Method, ok, ua))
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
	})
	for _, tc := range []struct {
		method, ua string
		body       io.Reader
	}{{"GET", "", nil}, {"GET", "curl/8.0", nil}, {"POST", "", strings.NewReader("b")}} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, h.front.URL+"/ua", tc.body)
		req.Header["User-Agent"] = nil // Go's client then sends none
		if tc.ua != "" {
			req.Header.Set("User-Agent", tc.ua)
		}
		resp, err := h.front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := `[GET false [] GET true ["curl/8.0"] POST false []]`
	if got := fmt.Sprint(seen); got != want {
		t.Errorf("origin saw %s, want %s", got, want)
	}
}

// TestOriginBoundServesWaitersInTurn: with MaxOriginConns 1, requests that
// wait for the connection get it in the order they came.
func TestOriginBoundServesWaitersInTurn(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
	}, func(o *Options) { o.MaxOriginConns = 1 })
	var wg sync.WaitGroup
	wg.Go(func() { h.get("/hold") })
	time.Sleep(50 * time.Millisecond)
	for i := range 4 {
		wg.Go(func() { h.get(fmt.Sprintf("/w/%d", i)) })
		time.Sleep(30 * time.Millisecond) // each queues after the one before
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
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.Copy(io.Discard, r.Body)
	})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the origin closes, if the test fails
	u, _ := url.Parse(o.srv.URL)
	opts := Options{Origin: u, MaxOriginConns: 1}
	opts.setDefaults()
	c := newTransport(opts).(*originClient)
	defer c.Close()
	roundTrip := func(ctx context.Context, method, path string, body io.Reader) error {
		req, _ := http.NewRequestWithContext(ctx, method, o.srv.URL+path, body)
		resp, err := c.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	held := make(chan error)
	go func() { held <- roundTrip(t.Context(), http.MethodGet, "/hold", nil) }()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := roundTrip(ctx, http.MethodPost, "/post", strings.NewReader("b")); err == nil {
		t.Fatal("a POST got through while the only slot was taken")
	}
	waitFor(t, func() bool { return c.dialsWaiting.Load() == 0 }, "the POST's dial still waits for a slot")
	releaseOnce.Do(func() { close(release) })
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(t.Context(), http.MethodGet, "/after", nil); err != nil {
		t.Fatal(err)
	}
	if n := o.count.Load(); n != 2 {
		t.Errorf("origin requests = %d, want 2 (the POST never left)", n)
	}
	c.mu.Lock()
	idle := len(c.idle)
	c.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle connections after the GETs, want 1: the connection was kept alive", idle)
	}
}

// TestOriginHandOverLooksAtTheConnection: a connection put back with bytes
// the origin left after the response (a HEAD answered with a body) is not
// handed to a waiting request, whose answer those bytes would become.
func TestOriginHandOverLooksAtTheConnection(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			if req.URL.Path == "/hold" {
				<-release
				// A HEAD's header, then a whole response nobody asked for.
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"+
					"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON")
				continue
			}
			answer(c, "REAL")
		}
	})
	u, _ := url.Parse("http://" + o.ln.Addr().String())
	opts := Options{Origin: u, MaxOriginConns: 1}
	opts.setDefaults()
	c := newTransport(opts).(*originClient)
	defer c.Close()
	roundTrip := func(method, path string) string {
		req, _ := http.NewRequestWithContext(t.Context(), method, u.String()+path, nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	held := make(chan string)
	go func() { held <- roundTrip(http.MethodHead, "/hold") }()
	time.Sleep(50 * time.Millisecond)
	waiter := make(chan string)
	go func() { waiter <- roundTrip(http.MethodGet, "/w") }()
	time.Sleep(50 * time.Millisecond) // the GET waits for the only connection
	releaseOnce.Do(func() { close(release) })
	<-held
	if got := <-waiter; got != "REAL" {
		t.Errorf("the waiting GET got %q, want REAL", got)
	}
}

// TestHandlerCloseEndsOriginConnections: after Close, the idle connection
// to the origin is closed, and one whose exchange was under way is closed
// when it ends instead of going back to the pool.
func TestHandlerCloseEndsOriginConnections(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	ended := make(chan string, 2)
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		var last string
		for {
			req, ok := readRequest(br)
			if !ok {
				ended <- last
				return
			}
			if last = req.URL.Path; last == "/slow" {
				<-release
			}
			answer(c, last)
		}
	})
	h := o.harness(t)
	var wg sync.WaitGroup
	wg.Go(func() { h.get("/slow").expect(t, 200, "/slow", "hoard; fwd=uri-miss") })
	time.Sleep(50 * time.Millisecond)
	h.get("/idle").expect(t, 200, "/idle", "hoard; fwd=uri-miss") // on a second connection, then idle
	if err := h.proxy.Close(); err != nil {
		t.Fatal(err)
	}
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
}
