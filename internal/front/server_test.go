package front

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveFront serves h through a front end on a loopback port and returns
// its address. The front end is closed when the test ends.
func serveFront(t *testing.T, h http.Handler, configure ...func(*http.Server)) (string, *Server) {
	t.Helper()
	return serveFrontWith(t, h, nil, configure...)
}

// serveFrontWith is serveFront with feConfigure, if not nil, called on
// the front end before it serves.
func serveFrontWith(t *testing.T, h http.Handler, feConfigure func(*Server), configure ...func(*http.Server)) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	for _, f := range configure {
		f(srv)
	}
	fe := New(srv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if feConfigure != nil {
		feConfigure(fe)
	}
	served := make(chan error, 1)
	go func() { served <- fe.Serve(ln) }()
	t.Cleanup(func() {
		fe.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), fe
}

// client is a raw connection to a server, reading responses as they come.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request of method, with its body.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

// head reads the head of a response, up to its blank line, and returns
// it, whatever the framing of the body that follows.
func (c *client) head() string {
	c.t.Helper()
	var head strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			c.t.Fatalf("reading a head: %v, after %q", err, head.String())
		}
		if line == "\r\n" || line == "\n" {
			return head.String()
		}
	}
}

// closed reports whether the server closed the connection (with nothing
// more sent) within d.
func (c *client) closed(d time.Duration) bool {
	c.c.SetReadDeadline(time.Now().Add(d))
	n, err := c.br.Read(make([]byte, 1))
	return n == 0 && errors.Is(err, io.EOF)
}

// ends reports whether the connection ends (EOF or reset), whatever is
// sent before, within d.
func (c *client) ends(d time.Duration) bool {
	c.c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// which tells what served a request: the front end's ResponseWriter or
// net/http's.
func which(w http.ResponseWriter) string {
	if _, ok := w.(*response); ok {
		return "front"
	}
	return "net/http"
}

// Plain requests are served by the front end, anything else by net/http,
// which then keeps the connection: each gets the answer it should.
func TestServedByWhom(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Served-By", which(w))
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	c := dial(t, addr)
	for _, step := range []struct {
		req, method, by, body string
	}{
		{"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "front", "GET /a "},
		{"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD", "front", ""},
		{"GET /b HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "front", "GET /b "},
		// The first request the front end does not parse hands the
		// connection over, from that request on.
		{"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", "POST", "net/http", "POST /c hello"},
		{"GET /d HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "net/http", "GET /d "},
	} {
		c.send(step.req)
		resp, body := c.read(step.method)
		if resp.StatusCode != 200 || resp.Header.Get("X-Served-By") != step.by || body != step.body {
			t.Errorf("%q: %d by %s, body %q; want 200 by %s, body %q",
				step.req, resp.StatusCode, resp.Header.Get("X-Served-By"), body, step.by, step.body)
		}
	}

	// Malformed requests get net/http's answers.
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
	} {
		c := dial(t, addr)
		c.send(req)
		if resp, _ := c.read("GET"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", req, resp.StatusCode)
		}
	}
}

// A request head longer than the front end's buffer, or sent in pieces,
// is still served.
func TestLongAndSlowHeads(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, which(w)+" "+r.Header.Get("X-Long")[:3])
	}))
	c := dial(t, addr)
	long := strings.Repeat("x", 2*readSize)
	c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + long + "\r\n\r\n")
	if _, body := c.read("GET"); body != "net/http xxx" {
		t.Errorf("a long head: body %q", body)
	}

	c = dial(t, addr)
	head := "GET / HTTP/1.1\r\nHost: h\r\nX-Long: abcdef\r\n\r\n"
	for i := range head {
		c.send(head[i : i+1])
		if i%10 == 0 {
			time.Sleep(time.Millisecond) // the head arrives in pieces
		}
	}
	if _, body := c.read("GET"); body != "front abc" {
		t.Errorf("a head sent byte by byte: body %q", body)
	}
}

// Pipelined requests are answered in order, and a byte of the next
// request read by a watch is not lost.
func TestPipelining(t *testing.T) {
	waiting := make(chan struct{}, 1)
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			// Starts a watch, as a handler waiting for an origin does.
			select {
			case <-r.Context().Done():
				return
			case waiting <- struct{}{}:
			}
			// Returns once the watch has read the first byte of /after.
			if watch := w.(*response).c.watchDone; watch != nil {
				<-watch
			} else {
				t.Error("asking for Done started no watch")
			}
		}
		io.WriteString(w, r.Method+" "+r.URL.Path) // with the method: a lost G would leave ET
	}))
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n")
	for _, want := range []string{"GET /1", "GET /2", ""} {
		method := "GET"
		if want == "" {
			method = "HEAD"
		}
		if _, body := c.read(method); body != want {
			t.Errorf("pipelined: body %q, want %q", body, want)
		}
	}

	c.send("GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
	<-waiting
	c.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n") // read by the watch, in part
	if _, body := c.read("GET"); body != "GET /wait" {
		t.Errorf("body %q, want GET /wait", body)
	}
	if _, body := c.read("GET"); body != "GET /after" {
		t.Errorf("body %q, want GET /after", body)
	}
}

// A client that goes away while its handler waits cancels the request's
// context; a handler that never waits starts no watch at all.
func TestClientGoneCancelsTheWait(t *testing.T) {
	var watches atomic.Int64
	cancelled := make(chan error, 1)
	started := make(chan struct{}, 1)
	addr, fe := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hit" {
			io.WriteString(w, "stored")
			return
		}
		// A derived context follows the request's, as an origin fetch's does.
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		started <- struct{}{}
		<-ctx.Done()
		cancelled <- context.Cause(ctx)
	}))
	hookWatch := func(s *Server) {
		if s == fe {
			watches.Add(1)
		}
	}
	testHookWatch.Store(&hookWatch)
	defer testHookWatch.Store(nil)
	c := dial(t, addr)
	for range 3 {
		c.send("GET /hit HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, body := c.read("GET"); body != "stored" {
			t.Fatalf("body %q", body)
		}
	}
	if n := watches.Load(); n != 0 {
		t.Errorf("%d watches for requests that never waited, want 0", n)
	}

	c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-started
	c.c.Close()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the wait ended with %v, want context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the handler's context was not cancelled after its client left")
	}
	if n := watches.Load(); n != 1 {
		t.Errorf("%d watches, want 1", n)
	}
}

// The context of a request is cancelled once its handler returned, also
// when nothing asked for Done before.
func TestContextEndsWithTheRequest(t *testing.T) {
	kept := make(chan context.Context, 1)
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			t.Error("a request's context is done while its handler runs")
		}
		if r.Context().Value(http.ServerContextKey) == nil || r.Context().Value(http.LocalAddrContextKey) == nil {
			t.Error("the request's context lacks net/http's server values")
		}
		kept <- r.Context()
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.read("GET")
	ctx := <-kept
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the context of a finished request is not done")
	}
	if ctx.Err() != context.Canceled {
		t.Errorf("Err() = %v, want context.Canceled", ctx.Err())
	}
}

// A response's head and body leave in one system call, whatever the
// body's size, when the handler declares the length.
func TestHeadAndBodyInOneWrite(t *testing.T) {
	var sends atomic.Int64
	addr, fe := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Path[1:])
		w.Header().Set("Content-Length", r.URL.Path[1:])
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.Repeat([]byte("x"), size))
	}))
	// Counted for this server only: other tests' connections may still
	// be finishing.
	hookSend := func(s *Server) {
		if s == fe {
			sends.Add(1)
		}
	}
	testHookSend.Store(&hookSend)
	defer testHookSend.Store(nil)
	c := dial(t, addr)
	for _, size := range []string{"0", "1", "1024", "4000", "4096", "16384", "100000"} {
		before := sends.Load()
		c.send("GET /" + size + " HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.read("GET")
		if resp.Header.Get("Content-Length") != size || len(body) != int(resp.ContentLength) {
			t.Fatalf("size %s: Content-Length %q, %d bytes", size, resp.Header.Get("Content-Length"), len(body))
		}
		if n := sends.Load() - before; n != 1 {
			t.Errorf("a %s-byte response took %d sends, want 1", size, n)
		}
	}
}

// Shutdown closes idle connections at once, lets a request in flight
// finish with Connection: close, and returns when it has.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	inHandler := make(chan struct{})
	addr, fe := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inHandler)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.read("GET")
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-inHandler

	shut := make(chan error, 1)
	go func() { shut <- fe.Shutdown(context.Background()) }()
	if !idle.closed(2 * time.Second) {
		t.Error("an idle connection was not closed by Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	resp, body := busy.read("GET")
	if body != "done" || !resp.Close {
		t.Errorf("the request in flight got %q, Connection %q; want done, close", body, resp.Header.Get("Connection"))
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return after the last request")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// An idle connection is closed after IdleTimeout; a head that stops
// half-way after ReadHeaderTimeout; a busy connection stays open.
func TestTimeouts(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), func(s *http.Server) {
		s.IdleTimeout = 300 * time.Millisecond
		s.ReadHeaderTimeout = 200 * time.Millisecond
	})
	busy := dial(t, addr)
	for range 8 { // longer in all than IdleTimeout
		busy.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, body := busy.read("GET"); body != "ok" {
			t.Fatalf("body %q", body)
		}
		time.Sleep(60 * time.Millisecond) // a pause shorter than IdleTimeout, all of them longer
	}

	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.read("GET")
	start := time.Now()
	if !idle.closed(3 * time.Second) {
		t.Fatal("an idle connection stayed open")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("an idle connection was closed after %v, before IdleTimeout", d)
	}

	half := dial(t, addr)
	half.send("GET / HTTP/1.1\r\nHost:")
	start = time.Now()
	if !half.closed(3 * time.Second) {
		t.Fatal("a connection with half a head stayed open")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before ReadHeaderTimeout", d)
	}
}

// A handler's panic closes its connection without an answer and is
// logged; http.ErrAbortHandler cuts a response short, unlogged. The
// server goes on serving.
func TestHandlerPanics(t *testing.T) {
	var logged lockedBuffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := New(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	})}, slog.New(slog.NewTextHandler(&logged, nil)))
	go fe.Serve(ln)
	defer fe.Close()
	addr := ln.Addr().String()

	c := dial(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	if !c.closed(2 * time.Second) {
		t.Error("a panicking handler's connection stayed open, or got bytes")
	}
	c = dial(t, addr)
	c.send("GET /abort HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); string(b) != "12345" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("an aborted response: %q, %v; want 12345, unexpected EOF", b, err)
	}
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "fine" {
		t.Errorf("after panics: %q", body)
	}
	if n := strings.Count(logged.String(), "panic serving"); n != 1 || !strings.Contains(logged.String(), "boom") {
		t.Errorf("log has %d panics, want the one with boom:\n%s", n, logged.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A request whose body length is ambiguous (RFC 9112 §6.1) is refused
// with 400, and its connection closed: nothing after it is read as a
// request.
func TestAmbiguousFramingRefused(t *testing.T) {
	var served atomic.Int64
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "served "+r.URL.Path)
	}))
	for _, req := range []string{
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		c := dial(t, addr)
		c.send(req)
		resp, body := c.read("POST")
		if resp.StatusCode != http.StatusBadRequest || !resp.Close || !strings.Contains(body, "Transfer-Encoding") {
			t.Errorf("%q: %d, close %v, body %q; want 400 with Connection: close", req, resp.StatusCode, resp.Close, body)
		}
		if !c.closed(2 * time.Second) {
			t.Errorf("%q: the connection stayed open", req)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the handler served %d of the refused requests", n)
	}
}

// A connection reuses its header maps from request to request: nothing of
// one request's fields, or of its response's, shows in the next, even when
// a handler writes to a response's header after it has returned.
func TestHeaderMapsStartEmpty(t *testing.T) {
	leaked := make(chan http.ResponseWriter, 1)
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		if r.URL.Path == "/first" {
			w.Header().Set("X-First", "1")
			w.Header().Set("Cache-Control", "max-age=60")
			leaked <- w
		}
		io.WriteString(w, strings.Join(names, ","))
	}))
	c := dial(t, addr)
	c.send("GET /first HTTP/1.1\r\nHost: h\r\nX-Only-First: a\r\nAccept: */*\r\n\r\n")
	if resp, body := c.read("GET"); body != "Accept,X-Only-First" || resp.Header.Get("X-First") != "1" {
		t.Fatalf("first: fields %q, X-First %q", body, resp.Header.Get("X-First"))
	}
	// The first handler has returned; what it does to its header now
	// goes nowhere.
	(<-leaked).Header().Set("X-Late", "1")
	c.send("GET /second HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n")
	resp, body := c.read("GET")
	if body != "User-Agent" {
		t.Errorf("second request's fields %q, want User-Agent alone", body)
	}
	for _, f := range []string{"X-First", "Cache-Control", "X-Late"} {
		if v := resp.Header.Get(f); v != "" {
			t.Errorf("second response has %s: %q", f, v)
		}
	}
}

// A Server serves one listener: a second Serve is refused, and Shutdown
// closes and drains the first.
func TestSecondServeRefused(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	fe := New(srv, slog.New(slog.DiscardHandler))
	ln1, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	s1 := make(chan error, 1)
	go func() { s1 <- fe.Serve(ln1) }()
	// An answer on the first listener: the first Serve has begun.
	c := dial(t, ln1.Addr().String())
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "ok" {
		t.Fatalf("the first listener answered %q", body)
	}
	s2 := make(chan error, 1)
	go func() { s2 <- fe.Serve(ln2) }()
	select {
	case err := <-s2:
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			t.Errorf("a second Serve returned %v, want a refusal", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("a second Serve was not refused: it still runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := fe.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s1:
		t.Logf("first Serve returned %v", err)
	case <-time.After(time.Second):
		t.Errorf("Shutdown returned, but Serve on the first listener is still running")
	}
	if c, err := net.DialTimeout("tcp", ln1.Addr().String(), time.Second); err == nil {
		t.Errorf("the first listener still accepts after Shutdown")
		c.Close()
	}
	fe.Close()
	ln1.Close()
}
