package front

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, for Shutdown: an idle connection waits for the first
// byte of its next request and may be closed at once.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

const (
	// readSize is the connection's read buffer, and so the largest request
	// head the front end parses; a longer one goes to net/http, which
	// allows Fallback.MaxHeaderBytes.
	readSize = 4 << 10
	// writeSize is the most response bytes gathered before a system call:
	// a larger body leaves with what is gathered in one writev.
	writeSize = 4 << 10
	// preSize is the most body held before the header is sent, as
	// net/http does, so that a small body written by a handler that sets
	// no Content-Length still gets one.
	preSize = 2 << 10
)

// aLongTimeAgo is a deadline in the past, which wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection served by the front end.
type conn struct {
	s          *Server
	rwc        net.Conn
	ctx        context.Context
	remoteAddr string
	state      atomic.Int32
	kept       atomic.Bool // it has served a request and is kept alive

	br       *bufio.Reader
	out      []byte // response bytes not sent yet, at most writeSize
	sender   sender
	werr     error     // the first error writing to rwc
	deadline time.Time // the read deadline set last; zero: none
	// headerTimed: the current request's header timeout has started.
	headerTimed bool
	// sent: the current response has made its first send (see send).
	sent bool

	// The watch: a read started when the handler waits for something, to
	// cancel its request's context if the client goes away.
	watchDone    chan struct{} // nil: no watch running
	watchAborted atomic.Bool
	watchBuf     [1]byte
	watchByte    bool // watchBuf holds the next byte of the stream

	// Reused from request to request, never seen by a handler.
	pre     [preSize]byte
	keys    []string
	dateSec int64
	date    []byte

	// The header maps of the request and of the response, reused from
	// request to request: a handler must not keep either once it has
	// returned (the response's Header then gives a map of its own).
	fields, outFields http.Header
}

// maxReusedFields is the most fields a header map may have held and
// still be reused: clearing a map costs in proportion to the most it
// ever held.
const maxReusedFields = 32

func newConn(s *Server, rwc net.Conn, ctx context.Context) *conn {
	c := &conn{s: s, rwc: rwc, ctx: ctx, remoteAddr: rwc.RemoteAddr().String()}
	c.br = bufio.NewReaderSize(connReader{c}, readSize)
	c.out = make([]byte, 0, writeSize)
	c.sender = newSender(rwc, s.WriteTimeout)
	return c
}

// connReader reads the connection, first the byte a watch read, if any.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if c.watchByte && len(p) > 0 {
		c.watchByte = false
		p[0] = c.watchBuf[0]
		return 1, nil
	}
	return c.rwc.Read(p)
}

// Test hooks, called with the connection's server: testHookSend before
// each send of response bytes (one system call, unless the socket is full
// and the send waits for room), testHookWatch when a watch starts.
var testHookSend, testHookWatch atomic.Pointer[func(*Server)]

func (c *conn) runHook(h *atomic.Pointer[func(*Server)]) {
	if f := h.Load(); f != nil {
		(*f)(c.s)
	}
}

// serve serves requests until the connection ends or is handed off.
func (c *conn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			c.s.forget(c)
			c.rwc.Close()
			c.s.freeSlot()
		}
	}()
	for first := true; ; first = false {
		c.headerTimed = false
		if c.br.Buffered() == 0 {
			if !c.state.CompareAndSwap(stateActive, stateIdle) || c.s.shutdown.Load() {
				return
			}
			if first {
				// A new connection has the header timeout for its first
				// request, from the start, as with net/http: one that
				// sends nothing does not get the idle timeout.
				c.headerDeadline()
			} else {
				c.idleDeadline()
			}
			_, err := c.br.Peek(1)
			if !c.state.CompareAndSwap(stateIdle, stateActive) || err != nil {
				return // closed by Shutdown, or by the client, or idle too long
			}
		}
		block, ok := c.readHead()
		if block == nil && !ok {
			return
		}
		var h head
		if ok {
			h, ok = parseHead(block, c.fields)
		}
		if !ok {
			// Everything read so far goes with the connection: the head
			// and whatever followed it.
			buffered, _ := c.br.Peek(c.br.Buffered())
			var headBy time.Time
			if c.headerTimed {
				headBy = c.deadline
			}
			c.s.handOff(c, bytes.Clone(buffered), headBy)
			handedOff = true
			return
		}
		c.br.Discard(len(block))
		if !c.serveRequest(&h) {
			return
		}
		c.kept.Store(true)
	}
}

// readHead returns the request head at the start of the read buffer, up
// to its blank line. It returns (nil, true) for a head the front end
// leaves to net/http: too long, or with a line ended by a bare LF. It
// returns (nil, false) when the connection failed or timed out first.
func (c *conn) readHead() ([]byte, bool) {
	waited := false
	var seen lineScan
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		ended := seen.scan(buf)
		switch {
		case seen.bareLF || !ended && len(buf) >= readSize:
			return nil, true
		case ended:
			return buf[:seen.next], true
		}
		if !waited {
			// The head came in pieces: the rest must come within the
			// header timeout.
			waited = true
			c.headerDeadline()
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return nil, false
		}
	}
}

// idleDeadline makes sure the read deadline is about IdleTimeout from
// now, changing it only when it is short by more than a sixteenth of the
// timeout (at most a second), so that a busy connection does not reset a
// timer on every request.
func (c *conn) idleDeadline() {
	d := c.s.Fallback.IdleTimeout
	if d == 0 {
		d = c.s.Fallback.ReadTimeout
	}
	if d <= 0 {
		if !c.deadline.IsZero() {
			c.setDeadline(time.Time{})
		}
		return
	}
	now := time.Now()
	if c.deadline.IsZero() || c.deadline.Sub(now) < d-min(d/16, time.Second) {
		c.setDeadline(now.Add(d))
	}
}

// headerDeadline gives the rest of a request head the header timeout:
// ReadHeaderTimeout, or ReadTimeout if that is zero, or no limit, as
// net/http reads them. The timeout starts once per request (for the
// first, when the connection opens): a head that comes in pieces does
// not restart it.
func (c *conn) headerDeadline() {
	if c.headerTimed {
		return
	}
	c.headerTimed = true
	d := c.s.Fallback.ReadHeaderTimeout
	if d <= 0 {
		d = c.s.Fallback.ReadTimeout
	}
	if d > 0 {
		c.setDeadline(time.Now().Add(d))
	} else if !c.deadline.IsZero() {
		c.setDeadline(time.Time{})
	}
}

func (c *conn) setDeadline(t time.Time) {
	c.deadline = t
	c.rwc.SetReadDeadline(t)
}

// serveRequest runs the handler for h and finishes the response. It
// returns whether the connection may serve another request.
func (c *conn) serveRequest(h *head) bool {
	// One allocation for the request's own state. None of it is reused:
	// a callback that outlives the handler (an origin's late interim
	// response, say) must find a finished response, not the next one.
	// Only the two header maps are, which a finished response no longer
	// hands out.
	x := &exchange{ctx: requestContext{Context: c.ctx, c: c}, url: h.url}
	ctx := &x.ctx
	c.sent = false
	if c.outFields == nil {
		c.outFields = make(http.Header, 8)
	}
	tmpl := http.Request{
		Method:     h.method,
		URL:        &x.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h.header,
		Body:       http.NoBody,
		Host:       h.host,
		Close:      h.close,
		RemoteAddr: c.remoteAddr,
		RequestURI: h.uri,
	}
	x.req = *tmpl.WithContext(ctx) // inlined: its copy stays on the stack
	r := &x.req

	w := &x.res
	*w = response{c: c, req: r, header: c.outFields, isHEAD: h.method == http.MethodHead, contentLength: -1, pre: c.pre[:0]}
	aborted := c.runHandler(w, r)
	ctx.end()
	if aborted {
		// What was written so far still goes, as with net/http: a
		// client that got the head sees the body cut short.
		w.finished.Store(true)
		c.flush()
		return false
	}
	w.finish()
	c.fields = reusable(h.header)
	c.outFields = reusable(w.header)
	return c.werr == nil && !w.closeAfter && !c.s.shutdown.Load()
}

// reusable returns m emptied for the next request, or nil when it held too
// many fields to be worth clearing.
func reusable(m http.Header) http.Header {
	if len(m) > maxReusedFields {
		return nil
	}
	clear(m)
	return m
}

// exchange is what a request served by the front end allocates.
type exchange struct {
	req http.Request
	url url.URL
	res response
	ctx requestContext
}

// runHandler calls the handler, and reports whether it panicked: with
// http.ErrAbortHandler to cut the response short, or with anything else,
// which is logged. Either way the connection is closed without finishing
// the response, as net/http does.
func (c *conn) runHandler(w *response, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			aborted = true
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logger().Error("http: panic serving", "remote", c.remoteAddr, "panic", fmt.Sprint(v), "stack", string(buf))
			}
		}
	}()
	h := c.s.Fallback.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	h.ServeHTTP(w, r)
	return false
}

// write sends p after the bytes gathered so far: small writes are
// gathered, a large one leaves with them in one writev.
func (c *conn) write(p []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.out)+len(p) <= cap(c.out) {
		c.out = append(c.out, p...)
		return nil
	}
	if len(c.out) == 0 {
		return c.send(p, nil)
	}
	err := c.send(c.out, p)
	c.out = c.out[:0]
	return err
}

// flush sends the bytes gathered.
func (c *conn) flush() error {
	if c.werr == nil && len(c.out) > 0 {
		c.send(c.out, nil)
	}
	c.out = c.out[:0]
	return c.werr
}

// yieldBelow is the size under which a response's first send first lets
// the other runnable goroutines run (see send).
const yieldBelow = 64 << 10

// send writes a and then b to the client. The first send of a response,
// when it is small, first yields the processor: the other connections
// whose requests are already runnable then reach their own send before
// this one leaves, and their responses go out together rather than spaced
// by the handling of each. Clients (and, on a miss, Hoard's own reads of
// the origin) then wake once for many responses instead of once for each.
// On cold misses it took a tenth off the origin's CPU per request beyond
// what the origin client's own yield did; on hits it changed little with
// one processor and halved the p99 of hot 1 KiB hits with two, which
// served 8% fewer 16 KiB hits. When nothing else is runnable the yield
// costs about 120 ns. A send of 64 KiB or more is dominated by its copy,
// and yielding before it cost hot 1 MiB hits 8% of their throughput; later
// sends of a response (the pieces of a streamed body) do not yield again.
// The yield puts the goroutine on the global run queue, so under sustained
// load it may wait for more than the current batch. bench/README.md has
// the figures.
func (c *conn) send(a, b []byte) error {
	c.runHook(&testHookSend)
	if !c.sent {
		c.sent = true
		if len(a)+len(b) < yieldBelow {
			runtime.Gosched()
		}
	}
	c.werr = c.sender.send(a, b)
	return c.werr
}

// startWatch starts reading the connection in the background, so that a
// client that closes it cancels the request's context. It is called with
// the request context's lock held. Bytes of the next request already read
// stay ahead of what the watch reads, which connReader hands on after them.
func (c *conn) startWatch(cancel context.CancelFunc) {
	c.runHook(&testHookWatch)
	c.rwc.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	c.watchDone = done
	go func() {
		defer close(done)
		n, err := c.rwc.Read(c.watchBuf[:])
		if n == 1 {
			c.watchByte = true
		}
		if err != nil && !c.watchAborted.Load() {
			cancel()
		}
	}()
}

// stopWatch ends a watch started for the request that just ended.
func (c *conn) stopWatch() {
	if c.watchDone == nil {
		return
	}
	c.watchAborted.Store(true)
	c.rwc.SetReadDeadline(aLongTimeAgo)
	<-c.watchDone
	c.watchAborted.Store(false)
	c.watchDone = nil
	c.deadline = aLongTimeAgo // idleDeadline sets a real one
}

// requestContext is a request's context. It is cancelled when the
// handler returns, or when the client goes away while the handler waits.
// Noticing the latter takes a read in the background (net/http starts one
// for every request); it is started only once something asks for Done,
// which a handler does when it is about to wait (for an origin, for
// another request's fetch) and a cache hit never does.
type requestContext struct {
	context.Context // the connection's: its values; never done
	c               *conn

	mu     sync.Mutex
	inner  context.Context // made on demand
	cancel context.CancelFunc
	ended  bool
}

func (x *requestContext) get() context.Context {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.inner == nil {
		x.inner, x.cancel = context.WithCancel(x.Context)
		if x.ended {
			x.cancel()
		} else {
			x.c.startWatch(x.cancel)
		}
	}
	return x.inner
}

func (x *requestContext) Done() <-chan struct{} { return x.get().Done() }

func (x *requestContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.inner != nil:
		return x.inner.Err()
	case x.ended:
		return context.Canceled
	}
	return x.Context.Err()
}

// AfterFunc lets contexts derived from this one (context.WithCancel and
// the like) follow it without a goroutine each.
func (x *requestContext) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(x.get(), f)
}

func (x *requestContext) String() string { return "front.requestContext" }

// end cancels the context, as the handler has returned, and stops the
// watch. It runs on the connection's goroutine.
func (x *requestContext) end() {
	x.mu.Lock()
	x.ended = true
	cancel := x.cancel
	x.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	x.c.stopWatch()
}
