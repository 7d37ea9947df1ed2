package origin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
			c.Close() // the client may keep some idle: serve must not wait for them
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

func (o *rawOrigin) url() *url.URL { return &url.URL{Scheme: "http", Host: o.ln.Addr().String()} }

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

// newClient is a Client for u, closed at the end of the test.
func newClient(t *testing.T, u *url.URL, opts ...func(*Options)) *Client {
	t.Helper()
	o := Options{URL: u}
	for _, f := range opts {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fetch sends method path to c and reads the answer whole: its status
// and body, or the error of the exchange or of the body.
func fetch(ctx context.Context, c *Client, method, path string, body io.Reader) (int, string, error) {
	u := *c.backends[0].opts.URL
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// get is fetch of a GET that must succeed with 200 and want as its body.
func get(t *testing.T, c *Client, path, want string) {
	t.Helper()
	status, body, err := fetch(t.Context(), c, http.MethodGet, path, nil)
	if err != nil || status != 200 || body != want {
		t.Fatalf("GET %s = %d %q, %v; want 200 %q", path, status, body, err, want)
	}
}

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}

// waiters is how many requests wait for a connection of c's pool to be put
// back.
func waiters(c *Client) int {
	p := c.backends[0].pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}
