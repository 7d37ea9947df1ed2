package front

// Rules found by review, each broken by the first version of the front
// end: the names say what they keep true.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The Content-Length sent is the one WriteHeader saw, which framed the
// body: a handler that changes the field afterwards (a bug net/http
// tolerates) cannot make the next response be read as this one's tail.
func TestContentLengthFixedAtWriteHeader(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(200)
			w.Header().Set("Content-Length", "5") // a handler bug net/http tolerates
			io.WriteString(w, "0123456789")
			return
		}
		io.WriteString(w, "second")
	})
	raw := func(addr string) string {
		return rawExchange(t, addr, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	}
	nh, got, _ := bothServers(t, h, nil, raw)
	t.Logf("net/http:\n%q\nfront:\n%q", nh, got)
	if strings.Contains(got, "Content-Length: 5\r\n") && strings.Contains(got, "0123456789") {
		t.Errorf("front sent Content-Length: 5 with a 10-byte body: the extra bytes 56789 are read as the start of the next response")
	}
}

// A kept-alive response keeps a framing when its handler deletes the
// Content-Length field after WriteHeader: Content-Length, chunked or
// Connection: close.
func TestContentLengthDeletedAfterWriteHeaderKeepsFraming(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.Header().Del("Content-Length")
		io.WriteString(w, "hello")
	})
	addr, _ := serveFront(t, h)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	head := c.head()
	t.Logf("front: %q", head)
	if !strings.Contains(head, "Content-Length") && !strings.Contains(head, "chunked") && !strings.Contains(head, "Connection: close") {
		t.Errorf("a keep-alive 200 with a body and neither Content-Length, chunked nor Connection: close")
	}
}

// A new connection that sends nothing is closed after ReadHeaderTimeout,
// as with net/http, not after IdleTimeout (nor never, when that is 0).
func TestSilentNewConnClosedAfterReadHeaderTimeout(t *testing.T) {
	for _, idle := range []time.Duration{3 * time.Second, 0} {
		cfg := func(s *http.Server) {
			s.ReadHeaderTimeout = 200 * time.Millisecond
			s.IdleTimeout = idle
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		closedAfter := func(addr string) time.Duration {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.Read(make([]byte, 1))
			return time.Since(start)
		}
		ts := httptest.NewUnstartedServer(h)
		cfg(ts.Config)
		ts.Start()
		nh := closedAfter(ts.Listener.Addr().String())
		ts.Close()
		addr, _ := serveFront(t, h, cfg)
		fe := closedAfter(addr)
		t.Logf("IdleTimeout=%v ReadHeaderTimeout=200ms: net/http closed a silent new conn after %v, front after %v (2s = still open)", idle, nh.Round(time.Millisecond), fe.Round(time.Millisecond))
		if fe > time.Second {
			t.Errorf("IdleTimeout=%v: front kept a connection that never sent a byte open for >= %v (net/http: %v)", idle, fe.Round(time.Millisecond), nh.Round(time.Millisecond))
		}
	}
}

// A Server built as a literal, with no Logger, logs a handler's panic to
// slog.Default and goes on: the process does not crash.
func TestHandlerPanicWithoutLoggerIsContained(t *testing.T) {
	if os.Getenv("REVIEW_CHILD") == "1" {
		logged := make(chan string, 1)
		slog.SetDefault(slog.New(recordHandler(logged)))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fe := &Server{Fallback: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("boom")
		})}}
		go fe.Serve(ln)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		// The panic is logged, and logging it is the last thing done before
		// the recovery returns: once the line is in, a crash is past.
		select {
		case msg := <-logged:
			if !strings.Contains(msg, "panic serving") {
				t.Errorf("slog.Default got %q, want the handler's panic", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's panic was never logged to slog.Default")
		}
		return // the process is still alive: a handler's panic was contained
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHandlerPanicWithoutLoggerIsContained$")
	cmd.Env = append(os.Environ(), "REVIEW_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		i := strings.Index(string(out), "panic:")
		t.Errorf("the process died (%v) when a handler panicked under a Server{Fallback: srv} literal:\n%s", err, firstLines(string(out[max(i, 0):]), 6))
	}
}

// recordHandler is a slog.Handler that sends each record's message to ch,
// if it has room.
type recordHandler chan<- string

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

// A client that pipelines its next request and then closes the
// connection cancels the waiting request's context, as net/http's
// background read notices.
func TestPipelinedClientGoneCancelsTheWait(t *testing.T) {
	run := func(serve func(http.Handler) string) string {
		res := make(chan string, 1)
		waiting := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/wait" {
				return
			}
			done := r.Context().Done() // the front end starts its watch here
			close(waiting)
			select {
			case <-done:
				res <- "cancelled"
			case <-time.After(2 * time.Second):
				res <- "not cancelled after 2s"
			}
		})
		addr := serve(h)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
		<-waiting
		c.Close()
		return <-res
	}
	nh := run(func(h http.Handler) string {
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		return ts.Listener.Addr().String()
	})
	fe := run(func(h http.Handler) string { a, _ := serveFront(t, h); return a })
	t.Logf("net/http: %s; front: %s", nh, fe)
	if fe != nh {
		t.Errorf("pipelined then gone: net/http %q, front %q", nh, fe)
	}
}

// The 400 for Transfer-Encoding with Content-Length is given whatever the
// head: one over the front end's 4 KiB buffer, or with bare LF line ends
// whose first line arrives on its own, is read to its end before the
// hand-off and refused too, so the request smuggled after it is never
// served.
func TestAmbiguousFramingRefusedWhateverTheHead(t *testing.T) {
	var smuggled atomic.Int64
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/smuggled" {
			smuggled.Add(1)
		}
		io.WriteString(w, "served "+r.URL.Path)
	}))
	tail := "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
	for name, parts := range map[string][]string{
		"long head":      {"POST /a HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("a", 5000) + "\r\n" + tail},
		"bare LF, split": {"POST /a HTTP/1.1\n", "Host: h\n" + strings.ReplaceAll(tail[:strings.Index(tail, "0\r\n")], "\r\n", "\n") + tail[strings.Index(tail, "0\r\n"):]},
	} {
		before := smuggled.Load()
		c := dial(t, addr)
		for i, p := range parts {
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // the head arrives in pieces
			}
			c.send(p)
		}
		resp, body := c.read("POST")
		t.Logf("%s: %d %q", name, resp.StatusCode, body)
		if resp.StatusCode != http.StatusBadRequest {
			resp2, body2 := c.read("GET")
			t.Errorf("%s: TE+CL answered %d, not 400, and the connection served a second request: %d %q", name, resp.StatusCode, resp2.StatusCode, body2)
		}
		if smuggled.Load() != before {
			t.Errorf("%s: /smuggled was served", name)
		}
	}
}

// A request's context is done when the connection's context (BaseContext,
// ConnContext) is, even if nothing asked for Done before.
func TestRequestContextDoneWithItsBase(t *testing.T) {
	base, cancelBase := context.WithCancelCause(context.Background())
	cancelBase(errors.New("base gone"))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		fmt.Fprintf(w, "Err=%v Cause=%v", ctx.Err(), context.Cause(ctx))
	})
	cfg := func(s *http.Server) { s.BaseContext = func(net.Listener) context.Context { return base } }
	get := func(addr string) string {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		_, b := c.read("GET")
		return b
	}
	nh, fe, _ := bothServers(t, h, cfg, get)
	t.Logf("net/http: %s; front: %s", nh, fe)
	if nh != fe {
		t.Errorf("net/http %q, front %q", nh, fe)
	}
}

// Trailer fields that RFC 9110 §6.5.1 forbids in a trailer (framing,
// routing, Content-Type, authentication...) are not sent, as net/http
// drops them; the others are.
func TestForbiddenTrailersNotSent(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Content-Length, Transfer-Encoding, Set-Cookie")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
		w.Header().Set("Content-Length", "999")
		w.Header().Set("Transfer-Encoding", "gzip")
		w.Header().Set("Set-Cookie", "session=evil")
	})
	raw := func(addr string) string {
		s := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		return s[strings.Index(s, "\r\n\r\n")+4:]
	}
	nh, fe, _ := bothServers(t, h, nil, raw)
	t.Logf("net/http body+trailer: %q\nfront body+trailer:    %q", nh, fe)
	if nh != fe {
		t.Errorf("trailers differ")
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

// A Content-Length field present with an empty value counts as present,
// as net/http reads it: the body is chunked, with one framing, never two
// Content-Length fields.
func TestEmptyContentLengthFieldCountsAsPresent(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "")
		io.WriteString(w, "hello")
	})
	raw := func(addr string) string {
		return rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	}
	nh, fe, addr := bothServers(t, h, nil, raw)
	t.Logf("net/http: %q\nfront:    %q", nh, fe)
	if n := strings.Count(fe, "Content-Length:"); n > 1 {
		t.Errorf("front sent %d Content-Length fields", n)
	}
	// What a client makes of it:
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, err := http.ReadResponse(c.br, nil); err != nil {
		t.Errorf("net/http's client refuses the front end's response: %v", err)
	}
}

// With ReadHeaderTimeout 0, a pipelined partial head is read with no
// deadline, as with net/http, not under an idle deadline set before the
// previous request, which a long handler could have let pass.
func TestPipelinedPartialHeadGetsNoStaleDeadline(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond) // longer than IdleTimeout: a deadline set before the request passes
		}
		io.WriteString(w, r.URL.Path)
	})
	cfg := func(s *http.Server) { s.ReadHeaderTimeout = 0; s.IdleTimeout = 300 * time.Millisecond }
	run := func(addr string) string {
		c := dial(t, addr)
		c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\n")
		c.read("GET")
		time.Sleep(50 * time.Millisecond) // the pipelined head arrives in two pieces
		c.send("Host: h\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	nh, fe, _ := bothServers(t, h, cfg, run)
	t.Logf("net/http: %q, front: %q", nh, fe)
	if nh != fe {
		t.Errorf("differ")
	}
}

// Requests pipelined while a watch reads, and a request handed off after
// one, are each answered in order, with contexts that a foreign goroutine
// also waits on (a stress test, for -race).
func TestWatchAndHandOffKeepPipelinedRequestsInOrder(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/wait" {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, c := context.WithCancel(r.Context())
				<-time.After(time.Millisecond) // a cancel that races the handler's wait
				c()
				<-ctx.Done()
			}()
			select {
			case <-r.Context().Done():
			case <-time.After(15 * time.Millisecond):
			}
			wg.Wait()
		}
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, addr)
			for j := range 10 {
				c.send("GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
				time.Sleep(3 * time.Millisecond) // what follows comes while /wait's watch reads, or after
				if (i+j)%3 == 0 {
					c.send("G")
					time.Sleep(time.Millisecond) // the next head arrives in pieces
					c.send("ET /plain HTTP/1.1\r\nHost: h\r\n\r\n")
					if _, b := c.read("GET"); b != "GET /wait " {
						t.Errorf("got %q", b)
						return
					}
					if _, b := c.read("GET"); b != "GET /plain " {
						t.Errorf("got %q", b)
						return
					}
					continue
				}
				if _, b := c.read("GET"); b != "GET /wait " {
					t.Errorf("got %q", b)
					return
				}
			}
			c.send("GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
			time.Sleep(3 * time.Millisecond) // what follows comes while /wait's watch reads, or after
			c.send("P")
			time.Sleep(time.Millisecond) // the head handed off arrives in pieces
			c.send("OST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
			if _, b := c.read("GET"); b != "GET /wait " {
				t.Errorf("got %q", b)
			}
			if _, b := c.read("POST"); b != "POST /p hello" {
				t.Errorf("got %q", b)
			}
		}()
	}
	wg.Wait()
}

// A Content-Length value edited in place after WriteHeader (the map's
// slice, not the map) does not reach the head: the head says what the
// framing was decided from.
func TestContentLengthEditedInPlaceAfterWriteHeaderNotSent(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"5"}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.Header()["Content-Length"][0] = "7"
		w.Write([]byte("hello"))
	}))
	c := dial(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
	for _, path := range []string{"/a", "/b"} {
		resp, body := c.read("GET")
		if resp.ContentLength != 5 || body != "hello" {
			t.Errorf("%s: Content-Length %d, body %q; want 5, hello", path, resp.ContentLength, body)
		}
	}
}

// The first request's header timeout runs from the connection's start and
// is not restarted when the head's first bytes arrive, as with net/http.
func TestFirstHeadTimeoutRunsFromConnect(t *testing.T) {
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), func(s *http.Server) { s.ReadHeaderTimeout = 400 * time.Millisecond })
	c := dial(t, addr)
	time.Sleep(300 * time.Millisecond)               // the head starts 300 ms after the connection
	io.WriteString(c.c, "GET / HT")                  // may fail on a loaded machine: the server has closed
	time.Sleep(300 * time.Millisecond)               // and takes 300 ms more: 600 ms in all
	io.WriteString(c.c, "TP/1.1\r\nHost: h\r\n\r\n") // may fail: the server has closed
	c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if resp, err := http.ReadResponse(c.br, nil); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("a first head that took 600 ms was served under a 400 ms ReadHeaderTimeout")
	}
}

// lineScan finds the end of a head fed to it a few bytes at a time, with
// CRLF or LF line ends, wherever the reads split them, and not at a blank
// first line.
func TestLineScan(t *testing.T) {
	for head, end := range map[string]int{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\nbody": len("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		"GET / HTTP/1.1\nHost: h\n\nbody":       len("GET / HTTP/1.1\nHost: h\n\n"),
		"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n": len("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		"GET / HTTP/1.1\r\nHost: h\r\n":         -1,
		"GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n":  len("GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n"),
	} {
		for _, step := range []int{1, 2, 3, 7, len(head)} {
			var l lineScan
			got := -1
			for n := min(step, len(head)); ; n = min(n+step, len(head)) {
				if l.scan([]byte(head[:n])) {
					got = l.next
					break
				}
				if n == len(head) {
					break
				}
			}
			if got != end {
				t.Errorf("%q in steps of %d: end %d, want %d", head, step, got, end)
			}
		}
	}
}

// rawExchange sends req on a new connection to addr and returns all the
// bytes that come back before the server closes it (or 2 s pass).
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(c)
	return string(b)
}

// bothServers serves h, with cfg applied (when not nil), by net/http
// alone and by a front end, and returns what run makes of each, net/http's
// first, and the front end's address.
func bothServers(t *testing.T, h http.Handler, cfg func(*http.Server), run func(addr string) string) (netHTTP, front, frontAddr string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	var configure []func(*http.Server)
	if cfg != nil {
		cfg(ts.Config)
		configure = append(configure, cfg)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	netHTTP = run(ts.Listener.Addr().String())
	frontAddr, _ = serveFront(t, h, configure...)
	return netHTTP, run(frontAddr), frontAddr
}
