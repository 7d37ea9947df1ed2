package front

// Tests of a connection the front end serves: its deadlines, the watch
// that notices a client gone, and a handler's panic.

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
	"testing"
	"time"
)

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
