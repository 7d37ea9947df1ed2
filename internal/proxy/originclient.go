package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one origin exchange on an originClient connection.
const (
	// maxOriginHeaderBytes bounds a response header from the origin (each
	// interim one too): an origin that sends more gets the client a 502.
	maxOriginHeaderBytes = 1 << 20
	// maxInterimResponses bounds the 1xx responses before the final one.
	maxInterimResponses = 16
	// maxIdleOriginConns is how many idle keep-alive connections are kept.
	maxIdleOriginConns = 256
	// staleConnRetries is how often a safe request is sent again after a
	// pooled connection turned out to be closed by the origin.
	staleConnRetries = 2
)

var (
	errOriginHeaderTooLarge = fmt.Errorf("response header larger than %d bytes", maxOriginHeaderBytes)
	errTooManyInterim       = fmt.Errorf("more than %d interim (1xx) responses", maxInterimResponses)
	errUnexpectedSwitch     = errors.New("101 Switching Protocols to a request that asked for no upgrade")
	errClientClosed         = errors.New("origin client closed")
)

// originClient is the HTTP/1.1 client that carries the requests without a
// body, the cache's own fetches among them, to a plain-http origin. Each
// exchange runs on the calling goroutine: the request is written and the
// response read on a pooled keep-alive connection, with no goroutine per
// connection and no hand-off between goroutines. (http.Transport runs a
// reader and a writer goroutine per connection; a miss then costs several
// goroutine switches, which show in the profile of a cold-miss load.)
//
// Requests it does not carry (with a body, over TLS, to another host) go to
// fallback, an *http.Transport.
type originClient struct {
	addr        string // host:port of the origin
	host        string // the URL host requests must name to be carried
	dialer      *net.Dialer
	idleTimeout time.Duration
	fallback    http.RoundTripper

	// slots, when not nil, holds one token per open connection: it bounds
	// the connections open at once (Options.MaxOriginConns), the
	// fallback's included (dialSlotted).
	slots chan struct{}
	// dialsWaiting counts the fallback's dials waiting for a slot.
	dialsWaiting atomic.Int32

	mu   sync.Mutex
	idle []*originConn // guarded by mu; the most recently used last
	// waiters are the requests waiting for a connection to be put back,
	// oldest first (only with slots): put hands it to the oldest.
	waiters []chan *originConn // guarded by mu
	sweep   *time.Timer        // guarded by mu; closes connections idle too long
	closed  bool               // guarded by mu
}

func newOriginClient(addr, host string, opts Options, fallback http.RoundTripper) *originClient {
	c := &originClient{
		addr:        addr,
		host:        host,
		dialer:      &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second},
		idleTimeout: opts.IdleConnTimeout,
		fallback:    fallback,
	}
	if opts.MaxOriginConns > 0 {
		c.slots = make(chan struct{}, opts.MaxOriginConns)
	}
	return c
}

// carries reports whether r travels on this client rather than fallback.
func (c *originClient) carries(r *http.Request) bool {
	return r.URL.Scheme == "http" && r.URL.Host == c.host &&
		(r.Body == nil || r.Body == http.NoBody) && r.Header["Upgrade"] == nil
}

// replayable reports whether r may be sent again after its connection
// failed before any of the response arrived: a safe method (RFC 9110
// §9.2.1) without a body.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// RoundTrip sends r and returns the origin's final response. The response
// body must be read to its end or closed; the connection goes back to the
// pool once it has been read to its end.
func (c *originClient) RoundTrip(r *http.Request) (*http.Response, error) {
	if !c.carries(r) {
		if c.slots != nil {
			r = r.WithContext(context.WithValue(r.Context(), requestContextKey{}, r.Context()))
		}
		return c.fallback.RoundTrip(r)
	}
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		pc, err := c.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(r)
		if err == nil {
			return resp, nil
		}
		pc.close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		// A pooled connection the origin closed just before it was used:
		// nothing came back, so a safe request is sent again on another.
		if !pc.reused || pc.got > 0 || !replayable(r) || attempt == staleConnRetries {
			return nil, err
		}
	}
}

// get returns an idle connection that is still open, or a new one. With a
// bound on connections, it waits, in turn, for a connection to be put back
// or for a slot to dial one.
func (c *originClient) get(ctx context.Context) (*originConn, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx) // before taking a pooled connection the cancellation would spoil
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errClientClosed
		}
		var pc *originConn
		if n := len(c.idle); n > 0 {
			pc = c.idle[n-1]
			c.idle[n-1] = nil
			c.idle = c.idle[:n-1]
		}
		c.mu.Unlock()
		if pc != nil {
			if time.Since(pc.idleSince) < c.idleTimeout && pc.usable() {
				pc.reused = true
				return pc, nil
			}
			pc.close()
			continue
		}
		if c.slots == nil {
			return c.dial(ctx)
		}
		select {
		case c.slots <- struct{}{}:
			return c.dialInSlot(ctx)
		default:
		}
		if pc, waited, err := c.wait(ctx); waited {
			return pc, err
		}
	}
}

// wait queues for a connection put back or a free slot, and reports
// whether it waited: it does not when a connection was put back before it
// could queue.
func (c *originClient) wait(ctx context.Context) (pc *originConn, waited bool, err error) {
	ch := make(chan *originConn, 1)
	c.mu.Lock()
	if len(c.idle) > 0 {
		c.mu.Unlock()
		return nil, false, nil
	}
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	select {
	case pc = <-ch:
		if ctx.Err() != nil {
			c.put(pc) // the request gave up as the connection came: on to the next
			return nil, true, context.Cause(ctx)
		}
		pc.reused = true
		return pc, true, nil
	case c.slots <- struct{}{}:
		if !c.unqueue(ch) {
			<-c.slots // a connection was handed over meanwhile: it is used instead
			pc = <-ch
			pc.reused = true
			return pc, true, nil
		}
		pc, err = c.dialInSlot(ctx)
		return pc, true, err
	case <-ctx.Done():
		if !c.unqueue(ch) {
			c.put(<-ch) // handed over meanwhile: on to the next
		}
		return nil, true, context.Cause(ctx)
	}
}

// unqueue removes ch from the waiters, and reports false when put had
// taken it already (a connection is then on its way to ch).
func (c *originClient) unqueue(ch chan *originConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiters {
		if w == ch {
			c.waiters = slices.Delete(c.waiters, i, i+1)
			return true
		}
	}
	return false
}

// dialInSlot dials with a slot taken, and gives it back if the dial fails.
func (c *originClient) dialInSlot(ctx context.Context) (*originConn, error) {
	pc, err := c.dial(ctx)
	if err != nil {
		<-c.slots
	}
	return pc, err
}

// dialSlotted is the fallback transport's dial when connections are
// bounded: it takes a slot for the connection, which its Close gives back,
// so that both pools together stay within the bound.
func (c *originClient) dialSlotted(ctx context.Context, network, addr string) (net.Conn, error) {
	// The transport dials with a context that the request's cancellation
	// does not reach: the wait for a slot ends with the request too.
	var reqDone <-chan struct{} // nil, never ready, without the request's context
	reqCtx, ok := ctx.Value(requestContextKey{}).(context.Context)
	if ok {
		reqDone = reqCtx.Done()
	}
	select {
	case c.slots <- struct{}{}:
	default:
		// Idle connections of the client hold slots: those idle now are
		// closed, and while this dial waits, none is kept idle.
		c.dialsWaiting.Add(1)
		c.closeIdle()
		select {
		case c.slots <- struct{}{}:
			c.dialsWaiting.Add(-1)
		case <-ctx.Done():
			c.dialsWaiting.Add(-1)
			return nil, context.Cause(ctx)
		case <-reqDone:
			c.dialsWaiting.Add(-1)
			return nil, context.Cause(reqCtx)
		}
	}
	nc, err := c.dialer.DialContext(ctx, network, addr)
	if err != nil {
		<-c.slots
		return nil, err
	}
	return &slotConn{Conn: nc, slots: c.slots}, nil
}

// requestContextKey carries a request's own context into the fallback
// transport's dial (dialSlotted).
type requestContextKey struct{}

// slotConn gives its slot back when it is closed.
type slotConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (s *slotConn) Close() error {
	err := s.Conn.Close()
	s.once.Do(func() { <-s.slots })
	return err
}

// closeIdleConns closes rt's idle connections, if it keeps any.
func closeIdleConns(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (c *originClient) dial(ctx context.Context) (*originConn, error) {
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	pc := &originConn{client: c, nc: nc, headerLeft: -1, peek: newPeeker(nc)}
	pc.expire = func() { nc.SetDeadline(aLongTimeAgo) }
	pc.br = bufio.NewReader(pc)
	pc.bw = bufio.NewWriter(nc)
	return pc, nil
}

// put returns a connection whose exchange ended cleanly: to the oldest
// request waiting for one, else to the pool. While a dial of the fallback
// waits for a slot, it is closed instead, which frees one.
func (c *originClient) put(pc *originConn) {
	c.mu.Lock()
	if c.closed || len(c.idle) >= maxIdleOriginConns || c.dialsWaiting.Load() > 0 {
		c.mu.Unlock()
		pc.close()
		return
	}
	if len(c.waiters) > 0 {
		if !pc.usable() {
			// Looked at as a pooled one is before reuse: bytes the origin
			// left after the response must not answer a waiter's request.
			// Closed, it frees a slot, which the oldest waiter takes.
			c.mu.Unlock()
			pc.close()
			return
		}
		ch := c.waiters[0]
		c.waiters[0] = nil
		c.waiters = c.waiters[1:]
		c.mu.Unlock()
		ch <- pc // buffered: never blocks
		return
	}
	pc.idleSince = time.Now()
	c.idle = append(c.idle, pc)
	if c.sweep == nil {
		c.sweep = time.AfterFunc(c.idleTimeout, c.closeExpired)
	}
	c.mu.Unlock()
}

// closeExpired closes the connections idle for longer than idleTimeout,
// and comes back while some are left.
func (c *originClient) closeExpired() {
	c.mu.Lock()
	c.sweep = nil
	var expired []*originConn
	kept := c.idle[:0]
	for _, pc := range c.idle {
		if time.Since(pc.idleSince) >= c.idleTimeout {
			expired = append(expired, pc)
		} else {
			kept = append(kept, pc)
		}
	}
	clear(c.idle[len(kept):])
	c.idle = kept
	if len(c.idle) > 0 && !c.closed {
		c.sweep = time.AfterFunc(c.idleTimeout, c.closeExpired)
	}
	c.mu.Unlock()
	for _, pc := range expired {
		pc.close()
	}
}

// CloseIdleConnections closes the idle connections, of the fallback too.
func (c *originClient) CloseIdleConnections() {
	c.closeIdle()
	closeIdleConns(c.fallback)
}

// closeIdle closes the client's own idle connections.
func (c *originClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// Close closes the idle connections and refuses new exchanges. Those under
// way end as they would have; their connections are then closed.
func (c *originClient) Close() {
	c.mu.Lock()
	c.closed = true
	if c.sweep != nil {
		c.sweep.Stop()
		c.sweep = nil
	}
	c.mu.Unlock()
	c.CloseIdleConnections()
}

// originConn is one keep-alive connection to the origin.
type originConn struct {
	client *originClient
	nc     net.Conn
	br     *bufio.Reader // reads through the originConn itself, to count and limit
	bw     *bufio.Writer
	peek   *peeker
	expire func() // ends the reads and writes under way: a cancelled exchange's hook

	reused     bool      // taken from the pool rather than dialled for this exchange
	idleSince  time.Time // when it was put back in the pool
	got        int64     // bytes read since the current request was written
	headerLeft int64     // bytes a response header may still take; -1 while reading a body
	closeOnce  sync.Once
}

// Read reads from the network for br, counting what arrives and holding a
// response header to maxOriginHeaderBytes.
func (pc *originConn) Read(p []byte) (int, error) {
	if pc.headerLeft == 0 {
		return 0, errOriginHeaderTooLarge
	}
	if pc.headerLeft > 0 && int64(len(p)) > pc.headerLeft {
		p = p[:pc.headerLeft]
	}
	n, err := pc.nc.Read(p)
	pc.got += int64(n)
	if pc.headerLeft > 0 {
		pc.headerLeft -= int64(n)
	}
	return n, err
}

// close closes the connection and gives its slot back. It never takes the
// client's lock, so it may be called with it held.
func (pc *originConn) close() {
	pc.closeOnce.Do(func() {
		pc.nc.Close()
		if pc.client.slots != nil {
			<-pc.client.slots // a request waiting for a slot may now dial
		}
	})
}

// aLongTimeAgo is a deadline in the past: setting it ends blocked reads
// and writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes r on the connection and reads the final response. While
// r's context lives, cancelling it ends any read or write under way; once
// the response has been read to its end, the connection returns to the
// pool.
func (pc *originConn) roundTrip(r *http.Request) (*http.Response, error) {
	defer func() {
		// A panic (in a 1xx relay, say) must not take the connection and
		// its slot with it.
		if v := recover(); v != nil {
			pc.close()
			panic(v)
		}
	}()
	ctx := r.Context()
	stop := context.AfterFunc(ctx, pc.expire)
	pc.got = 0
	if err := r.Write(pc.bw); err != nil {
		stop()
		return nil, err
	}
	// Yield before the request leaves, so that the other requests already
	// runnable are written first and reach the origin with this one: the
	// origin then wakes once for a burst of requests instead of once for
	// each, as behind an event loop that writes every ready request
	// before it polls again. On cold misses with the origin on the same
	// two cores, this yield alone cut the origin's CPU per request from
	// 53-57 µs to 38-45 (and the front end's before the response's send,
	// together with it, to 36-38; bench/README.md). Requests that go
	// through the fallback http.Transport do not yield.
	runtime.Gosched()
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, err
	}
	resp, err := pc.readResponse(r)
	if err != nil {
		stop()
		return nil, err
	}
	keep := !resp.Close && !r.Close
	if resp.Body == http.NoBody {
		pc.release(stop, keep)
		return resp, nil
	}
	resp.Body = &originBody{ctx: ctx, pc: pc, body: resp.Body, stop: stop, keep: keep}
	return resp, nil
}

// readResponse reads the final response to r, passing interim (1xx)
// responses to r's client trace (RFC 9110 §15.2).
func (pc *originConn) readResponse(r *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(r.Context())
	for range maxInterimResponses + 1 {
		pc.headerLeft = maxOriginHeaderBytes
		resp, err := http.ReadResponse(pc.br, r)
		pc.headerLeft = -1
		if err != nil {
			return nil, invalidUnlessBroken(err)
		}
		switch {
		case !validStatus(resp.StatusCode):
			return nil, badStatus(resp.StatusCode)
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, &invalidResponse{errUnexpectedSwitch}
		case resp.StatusCode >= 200:
			return resp, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
	return nil, &invalidResponse{errTooManyInterim}
}

// validStatus reports whether code is a status code at all: three digits
// from 100 to 599 (RFC 9110 §15). Anything else is not an HTTP response,
// and in particular not an interim one.
func validStatus(code int) bool { return code >= 100 && code <= 599 }

// badStatus is the error for a response with a status code that is not one.
func badStatus(code int) error { return &invalidResponse{fmt.Errorf("status code %d", code)} }

// invalidResponse is an origin answer that is not HTTP/1.1, as opposed to
// a connection that broke or timed out.
type invalidResponse struct{ err error }

func (e *invalidResponse) Error() string { return "invalid response: " + e.err.Error() }
func (e *invalidResponse) Unwrap() error { return e.err }

// invalidUnlessBroken marks an error from reading a response header as an
// invalid response, unless the connection ended, broke or was cut by a
// deadline.
func invalidUnlessBroken(err error) error {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) {
		return err
	}
	return &invalidResponse{err}
}

// usable reports whether the origin has neither closed nor written to an
// idle connection: one that is readable while no request is outstanding
// holds an end of stream, or bytes that answer nothing (a 408, say), and
// must not carry a request.
func (pc *originConn) usable() bool {
	return pc.br.Buffered() == 0 && !pc.peek.readable()
}

// release ends an exchange: the connection goes back to the pool when keep
// and the cancellation hook had not fired, and is closed otherwise.
func (pc *originConn) release(stop func() bool, keep bool) {
	if stop() && keep {
		pc.client.put(pc)
		return
	}
	pc.close()
}

// originBody is a response body read from an originConn. Read to its end,
// it puts the connection back in the pool; closed before that, it closes
// the connection (what is left of the body is not read). Once it has ended,
// every Read reports how: io.EOF, the error that cut it, or
// errBodyClosed.
type originBody struct {
	ctx  context.Context
	pc   *originConn
	body io.ReadCloser
	stop func() bool
	keep bool
	end  atomic.Pointer[error]
}

var (
	errBodyClosed = errors.New("read on a closed origin response body")
	// endOfBody is the end of a body read whole, shared so that no Read
	// allocates one.
	endOfBody error = io.EOF
)

func (b *originBody) Read(p []byte) (int, error) {
	if end := b.end.Load(); end != nil {
		return 0, *end
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		if b.end.CompareAndSwap(nil, &endOfBody) {
			b.pc.release(b.stop, b.keep)
		}
	case err != nil:
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx) // the read was ended by the cancellation
		}
		b.finish(err)
	}
	return n, err
}

// Close ends the body. The connection is closed unless the body was read
// to its end: draining the rest could take long, and a new connection is
// cheap.
func (b *originBody) Close() error {
	b.finish(errBodyClosed)
	return nil
}

// finish ends the body with err, closing its connection, unless it had
// ended already.
func (b *originBody) finish(err error) {
	if b.end.Load() != nil {
		return // ended already; the usual case for a Close after the end
	}
	end := new(error)
	*end = err
	if b.end.CompareAndSwap(nil, end) {
		b.stop()
		b.pc.close()
	}
}
