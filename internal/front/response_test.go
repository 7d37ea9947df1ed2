package front

// Tests of the response a handler writes: its framing and its trailer.

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
