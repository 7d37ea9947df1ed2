package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/origin/origintest"
)

// TestOriginAnswersGarbage: an origin that does not speak HTTP gets the
// client a 502, and nothing is stored.
func TestOriginAnswersGarbage(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		br.ReadString('\n')
		fmt.Fprint(c, "SSH-2.0-not-http\r\n\r\ngarbage garbage\r\n")
	})
	h := rawHarness(t, o)
	for range 2 {
		h.get("/g").expect(t, 502, "The origin server's answer was not valid HTTP (origin-invalid-response).\n", "hoard; fwd=uri-miss; detail=origin-invalid-response")
	}
	if n := h.store.Len(); n != 0 {
		t.Errorf("%d entries stored from a garbage origin", n)
	}
}

// TestOriginRestartBacksOff: an origin that refuses connections is not
// dialled again during the backoff pause; once it is back and the pause
// is over, requests reach it.
func TestOriginRestartBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the origin is down: connections are refused
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {}, func(o *Options) {
		o.Origin.Host = addr
		o.MaxBackoff = time.Second
	})
	h.get("/r").expect(t, 502, "", "hoard; fwd=uri-miss; detail=origin-unreachable")

	// The origin comes back on the same address.
	var hits atomic.Int64
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "back")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// Still within the first pause (100ms): no dial, an immediate 502.
	h.clock.Advance(50 * time.Millisecond)
	h.get("/r").expect(t, 502, "", "hoard; fwd=uri-miss; detail=origin-unreachable")
	if hits.Load() != 0 {
		t.Errorf("origin dialled during the backoff pause")
	}
	h.clock.Advance(100 * time.Millisecond)
	h.get("/r").expect(t, 200, "back", "hoard; fwd=uri-miss; fwd-status=200")
	if hits.Load() != 1 {
		t.Errorf("origin requests after the pause = %d, want 1", hits.Load())
	}
}

// TestOriginStallsMidBody: a body that stops arriving for longer than
// OriginTimeout is cut: the client sees a broken connection, nothing is
// stored, and the next request reaches the origin again.
func TestOriginStallsMidBody(t *testing.T) {
	var n atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "8")
		if n.Add(1) == 1 {
			w.Write([]byte("half"))
			w.(http.Flusher).Flush()
			<-stop
			return
		}
		w.Write([]byte("complete"))
	}, func(o *Options) { o.OriginTimeout = 200 * time.Millisecond })
	resp, err := http.Get(h.front.URL + "/stall")
	if err == nil {
		_, err = bufio.NewReader(resp.Body).ReadString('x')
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Logf("first client read error: %v", err)
	}
	h.get("/stall").expect(t, 200, "complete", "hoard; fwd=uri-miss; fwd-status=200")
}

// TestOriginProtocolViolations: answers that break HTTP/1.1 get the client
// a 502 with detail=origin-invalid-response and store nothing (package
// origin's tests check the client's side of each).
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
			h := rawHarness(t, o, func(opt *Options) { opt.MaxBackoff = -1; opt.MaxOriginConns = 1 })
			for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
				h.do(method, "/v").expect(t, 502, "The origin server's answer was not valid HTTP (origin-invalid-response).\n",
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
	h := rawHarness(t, o)
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

// TestHandlerCloseEndsOriginConnections: after Close, the idle connection
// to the origin is closed, and one whose exchange was under way is closed
// when it ends instead of going back to the pool.
func TestHandlerCloseEndsOriginConnections(t *testing.T) {
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
	h := rawHarness(t, o)
	var wg sync.WaitGroup
	wg.Go(func() { h.get("/slow").expect(t, 200, "/slow", "hoard; fwd=uri-miss") })
	// Once /slow is at the origin, its exchange holds the first connection.
	<-slow
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

// The hand-written origin of package origintest, under the names these
// tests use.
type rawOrigin = origintest.Raw

var (
	newRawOrigin = origintest.NewRaw
	readRequest  = origintest.ReadRequest
	answer       = origintest.Answer
)

func rawHarness(t *testing.T, o *rawOrigin, opts ...func(*Options)) *harness {
	t.Helper()
	addr := o.Addr()
	return newHarness(t, func(http.ResponseWriter, *http.Request) {},
		append([]func(*Options){func(opt *Options) { opt.Origin.Host = addr }}, opts...)...)
}

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}

// A fill whose origin body stalls (headers and a few bytes sent, then
// silence on an open connection) ends once a read has waited OriginTimeout,
// although it runs without the client's context: later requests for the URL
// do not join it forever, and reach the origin, which now answers.
func TestStalledOriginBodyReleasesTheURL(t *testing.T) {
	stop := make(chan struct{})
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "10")
		if n.Add(1) == 1 {
			w.Write([]byte("part"))
			w.(http.Flusher).Flush()
			<-stop // stalls (until the test ends)
			return
		}
		w.Write([]byte("0123456789"))
	}, func(o *Options) { o.OriginTimeout = 300 * time.Millisecond })
	defer close(stop)
	first := &http.Client{Timeout: 500 * time.Millisecond} // gone before long, whatever Hoard does
	resp, err := first.Get(h.front.URL + "/stall")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	t.Logf("first client: %v", err)
	waitFor(t, func() bool {
		h.proxy.flightsMu.Lock()
		defer h.proxy.flightsMu.Unlock()
		return h.proxy.flights[primaryKeyFor(h, "/stall")] == nil
	}, "the fill of the stalled body still holds the URL")
	// A bound for a hang, generous for a loaded machine: the origin answers at once.
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err = client.Get(h.front.URL + "/stall")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		t.Errorf("second client, origin healthy now: %v (origin requests: %d)", err, n.Load())
	}
}
