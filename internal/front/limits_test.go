package front

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each limit is shown over a real socket on both servers: the front end's
// own connections, and connections net/http serves (NetOnly, or handed
// off after a request with a body). While one client is held to a limit,
// another is served.

// servedMeanwhile checks that a fresh client is answered at once.
func servedMeanwhile(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	c.c.SetDeadline(time.Now().Add(2 * time.Second))
	c.send("GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != http.StatusOK {
		t.Errorf("another client got %d while one was held to a limit", resp.StatusCode)
	}
}

// A head that comes in pieces must be whole within the header timeout,
// on a handed-off connection too, where net/http times only what comes
// after the head's first line (and the guard holds heads back).
func TestLimitHeaderTimeout(t *testing.T) {
	t.Parallel()
	for _, netOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("net-only=%v", netOnly), func(t *testing.T) {
			t.Parallel()
			addr, _ := serveFrontWith(t, &recordingHandler{}, func(s *Server) { s.NetOnly = netOnly },
				func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
			c := dial(t, addr)
			// A first request with a body hands the connection to net/http.
			c.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
			if resp, _ := c.read("POST"); resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: %d", resp.StatusCode)
			}
			start := time.Now()
			c.send("GET /b HTTP/1.1\r\n")
			closed := make(chan bool, 1)
			go func() { closed <- c.closed(3 * time.Second) }()
			// One more field every 100ms, for longer than the timeout.
		trickle:
			for i := range 20 {
				select {
				case <-closed:
					closed <- true
					break trickle
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(c.c, "X-%d: y\r\n", i); err != nil {
					break
				}
			}
			if !<-closed {
				t.Fatal("a head sent one field at a time was still being read after 2s")
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 1500*time.Millisecond {
				t.Errorf("closed after %v, want about the 300ms header timeout", d)
			}
			servedMeanwhile(t, addr)
		})
	}
}

// A request body that stops arriving closes its connection after the body
// timeout; the handler's read fails.
func TestLimitBodyTimeout(t *testing.T) {
	t.Parallel()
	bodyErr := make(chan error, 1)
	addr, _ := serveFrontWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			io.WriteString(w, "ok")
			return
		}
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
	}), func(s *Server) { s.BodyTimeout = 300 * time.Millisecond })
	c := dial(t, addr)
	start := time.Now()
	c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly some of it")
	servedMeanwhile(t, addr)
	select {
	case err := <-bodyErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("the handler's body read ended with %v, want a timeout", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the handler was still reading a stalled body after 3s")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the body read failed after %v, before the 300ms body timeout", d)
	}
	if !c.ends(3 * time.Second) {
		t.Error("the connection of a stalled body stayed open")
	}
}

// A client that stops reading a response has its connection closed once
// a write has made no progress for the write timeout; the handler's write
// fails. A client that reads slowly is not cut, though its response takes
// longer than the timeout. (Progress is what the kernel shows: a full
// socket buffer is writable again once about half of it has been read,
// so a client must read that much, a few MiB on loopback, per timeout.)
func TestLimitWriteTimeout(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 16<<20) // far more than socket buffers hold
	const timeout = time.Second
	for _, tc := range []struct{ name, req string }{
		{"front end", "GET /big HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"net/http", "GET /big HTTP/1.0\r\nHost: h\r\n\r\n"}, // HTTP/1.0 is net/http's
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			writeErr := make(chan error, 1)
			addr, _ := serveFrontWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body []byte
				switch r.URL.Path {
				case "/big":
					body = big
				case "/medium":
					body = big[:12<<20]
				default:
					io.WriteString(w, "ok")
					return
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				_, err := w.Write(body)
				writeErr <- err
			}), func(s *Server) { s.WriteTimeout = timeout })
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.(*net.TCPConn).SetReadBuffer(4 << 10)
			io.WriteString(conn, tc.req)
			servedMeanwhile(t, addr)
			select {
			case err := <-writeErr:
				if err == nil {
					t.Error("the handler's write to a client that reads nothing succeeded")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the handler was still writing to a client that reads nothing after 5s")
			}

			// A slow reader: a socket buffer's worth (tcp_wmem's 4 MiB
			// at most) at a time, then a pause of half the timeout, so
			// that each write progresses within the timeout with half of
			// it to spare on a loaded machine, and the response takes
			// longer than the timeout in all, gets the whole body.
			slow, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			io.WriteString(slow, strings.Replace(tc.req, "/big", "/medium", 1))
			start := time.Now()
			got, want := 0, 12<<20
			buf := make([]byte, 4<<20)
			slow.SetReadDeadline(time.Now().Add(20 * time.Second))
			for got < want {
				n, err := io.ReadFull(slow, buf)
				got += n
				if err != nil {
					t.Logf("slow reader: %v", err)
					break
				}
				if got < want {
					time.Sleep(timeout / 2) // a slow reader, as the comment above says
				}
			}
			if got < want {
				t.Errorf("a slow reader got %d of %d bytes and more (head included) in %v", got, want, time.Since(start))
			}
			if err := <-writeErr; err != nil {
				t.Errorf("the write to a slow reader failed: %v", err)
			}
		})
	}
}

// A head over MaxHeaderBytes gets 431; others are served.
func TestLimitMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	addr, _ := serveFront(t, &recordingHandler{}, func(s *http.Server) { s.MaxHeaderBytes = 8 << 10 })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 32 KiB head: %d, want 431", resp.StatusCode)
	}
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Fine: " + strings.Repeat("a", 6<<10) + "\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != http.StatusOK {
		t.Errorf("a 6 KiB head: %d, want 200", resp.StatusCode)
	}
}

// At MaxConns, an idle keep-alive connection is closed to make room; with
// none idle, a new connection waits until one ends, and is then served.
func TestLimitMaxConns(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	held := make(chan struct{}, 2)
	addr, _ := serveFrontWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}), func(s *Server) { s.MaxConns = 2 })

	// Two idle connections, one of each server.
	idle1, idle2 := dial(t, addr), dial(t, addr)
	idle1.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle1.read("GET")
	idle2.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") // handed to net/http
	idle2.read("POST")
	third := dial(t, addr)
	third.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := third.read("GET"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a third connection: %d", resp.StatusCode)
	}
	if !idle1.closed(2*time.Second) && !idle2.closed(2*time.Second) {
		t.Error("no idle connection was closed to make room for the third")
	}

	// Now two busy connections: a third waits.
	third.c.Close()
	h1, h2 := dial(t, addr), dial(t, addr)
	h1.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	h2.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	<-held
	<-held
	waiting := dial(t, addr)
	waiting.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(waiting.br, nil)
		if err != nil {
			answered <- 0
			return
		}
		answered <- resp.StatusCode
	}()
	select {
	case code := <-answered:
		t.Fatalf("a connection beyond MaxConns was served (%d) while two were busy", code)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	h1.read("GET")
	h1.c.Close()
	select {
	case code := <-answered:
		if code != http.StatusOK {
			t.Errorf("the waiting connection got %d", code)
		}
	case <-time.After(3 * time.Second):
		t.Error("the waiting connection was not served once a slot was free")
	}
}

// The write timeout bounds one write's wait, not the connection's life: a
// connection whose response once had to wait for room serves its next
// request however much later it comes.
func TestLimitWriteTimeoutKeepAlive(t *testing.T) {
	t.Parallel()
	// Long enough that a loaded machine's client does not stall its read
	// of the big body for as long.
	const timeout = time.Second
	body := bytes.Repeat([]byte("x"), 8<<20)
	addr, _ := serveFrontWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(body)
			return
		}
		io.WriteString(w, "ok")
	}), func(s *Server) { s.WriteTimeout = timeout })
	c := dial(t, addr)
	c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the socket fills: the send waits for room
	if _, b := c.read("GET"); len(b) != len(body) {
		t.Fatalf("got %d of %d bytes", len(b), len(body))
	}
	time.Sleep(timeout + timeout/5) // past the deadline the big response set
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, b := c.read("GET"); resp.StatusCode != http.StatusOK || b != "ok" {
		t.Errorf("the next request: %d %q", resp.StatusCode, b)
	}
}
