// Package origintest provides a hand-written origin for tests: a TCP
// listener whose connections a test serves byte by byte, for what a
// well-behaved server never does (garbage, cut bodies, unasked bytes,
// closing a kept-alive connection). It is for tests only.
package origintest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Raw is an origin written by hand on a TCP listener.
type Raw struct {
	ln      net.Listener
	accepts atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn // guarded by mu; closed at the end of the test
}

// NewRaw starts a Raw origin on a loopback port, stopped when the test
// ends. serve is called once per accepted connection and owns it.
func NewRaw(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) *Raw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &Raw{ln: ln}
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
			c.Close() // a client may keep some idle: serve must not wait for them
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

// Addr is the origin's host:port.
func (o *Raw) Addr() string { return o.ln.Addr().String() }

// URL is the origin's base URL.
func (o *Raw) URL() *url.URL { return &url.URL{Scheme: "http", Host: o.Addr()} }

// Accepts is how many connections the origin has accepted.
func (o *Raw) Accepts() int64 { return o.accepts.Load() }

// ReadRequest reads one request from br, its body discarded; false at end
// of stream.
func ReadRequest(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	io.Copy(io.Discard, req.Body)
	return req, true
}

// Answer writes a cacheable 200 with body and the extra field lines
// (each ending in CRLF).
func Answer(c net.Conn, body string, extra ...string) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: %d\r\n%s\r\n%s",
		len(body), strings.Join(extra, ""), body)
}
