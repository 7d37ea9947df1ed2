package origin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one origin exchange on a pool connection.
const (
	// maxHeaderBytes bounds a response header from the origin (each
	// interim one too): an origin that sends more gets the client a 502.
	maxHeaderBytes = 1 << 20
	// maxInterimResponses bounds the 1xx responses before the final one.
	maxInterimResponses = 16
	// maxIdleConns is how many idle keep-alive connections are kept.
	maxIdleConns = 256
)

var (
	errHeaderTooLarge   = fmt.Errorf("response header larger than %d bytes", maxHeaderBytes)
	errTooManyInterim   = fmt.Errorf("more than %d interim (1xx) responses", maxInterimResponses)
	errUnexpectedSwitch = errors.New("101 Switching Protocols to a request that asked for no upgrade")
	errClientClosed     = errors.New("origin client closed")
)

// pool is Hoard's own HTTP/1.1 client for the requests without a body, the
// cache's own fetches among them, to a plain-http origin. Each exchange
// runs on the calling goroutine: the request is written and the response
// read on a pooled keep-alive connection, with no goroutine per connection
// and no hand-off between goroutines. (http.Transport runs a reader and a
// writer goroutine per connection; a miss then costs several goroutine
// switches, which show in the profile of a cold-miss load.)
//
// Requests it does not carry (with a body, over TLS, to another host) go to
// the backend's *http.Transport; with a bound on connections, that
// transport takes its connections' slots from the pool's (dialSlotted).
type pool struct {
	addr        string // host:port of the origin
	host        string // the URL host requests must name to be carried
	dialer      *net.Dialer
	idleTimeout time.Duration
	open        *atomic.Int64 // connections open, shared with the backend's Transport

	// slots, when not nil, holds one token per open connection: it bounds
	// the connections open at once (Options.MaxConns), the net/http
	// Transport's included (dialSlotted).
	slots chan struct{}
	// dialsWaiting counts the Transport's dials waiting for a slot.
	dialsWaiting atomic.Int32

	mu   sync.Mutex
	idle []*poolConn // guarded by mu; the most recently used last
	// waiters are the requests waiting for a connection to be put back,
	// oldest first (only with slots): put hands it to the oldest.
	waiters []chan *poolConn // guarded by mu
	sweep   *time.Timer      // guarded by mu; closes connections idle too long
	closed  bool             // guarded by mu
}

func newPool(addr, host string, dialer *net.Dialer, opts Options, open *atomic.Int64) *pool {
	c := &pool{
		open:        open,
		addr:        addr,
		host:        host,
		dialer:      dialer,
		idleTimeout: opts.IdleConnTimeout,
	}
	if opts.MaxConns > 0 {
		c.slots = make(chan struct{}, opts.MaxConns)
	}
	return c
}

// carries reports whether r travels on the pool rather than the Transport.
func (c *pool) carries(r *http.Request) bool {
	return r.URL.Scheme == "http" && r.URL.Host == c.host &&
		(r.Body == nil || r.Body == http.NoBody) && r.Header["Upgrade"] == nil
}

// roundTrip sends r once and returns the origin's final response. The
// response body must be read to its end or closed; the connection goes
// back to the pool once it has been read to its end. stale reports a
// failure on a pooled connection the origin had closed just before it was
// used: nothing came back, so the request may be sent again (Client.RoundTrip
// decides).
func (c *pool) roundTrip(r *http.Request) (resp *http.Response, stale bool, err error) {
	ctx := r.Context()
	pc, err := c.get(ctx)
	if err != nil {
		return nil, false, err
	}
	resp, err = pc.roundTrip(r)
	if err == nil {
		return resp, false, nil
	}
	pc.close()
	if ctx.Err() != nil {
		return nil, false, context.Cause(ctx)
	}
	return nil, pc.reused && pc.got == 0, err
}

// get returns an idle connection that is still open, or a new one. With a
// bound on connections, it waits, in turn, for a connection to be put back
// or for a slot to dial one.
func (c *pool) get(ctx context.Context) (*poolConn, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx) // before taking a pooled connection the cancellation would spoil
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errClientClosed
		}
		var pc *poolConn
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
func (c *pool) wait(ctx context.Context) (pc *poolConn, waited bool, err error) {
	ch := make(chan *poolConn, 1)
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
func (c *pool) unqueue(ch chan *poolConn) bool {
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
func (c *pool) dialInSlot(ctx context.Context) (*poolConn, error) {
	pc, err := c.dial(ctx)
	if err != nil {
		<-c.slots
	}
	return pc, err
}

// dialSlotted is the Transport's dial when connections are bounded, for a
// request with context reqCtx: it takes a slot for the connection, which
// its Close gives back, so that both pools together stay within the bound.
// The Transport dials with a context that the request's cancellation does
// not reach (net/http keeps a dial going for a later request): reqCtx ends
// the wait for a slot with the request too.
func (c *pool) dialSlotted(ctx, reqCtx context.Context, network, addr string) (net.Conn, error) {
	select {
	case c.slots <- struct{}{}:
	default:
		// Idle connections of the pool hold slots: those idle now are
		// closed, and while this dial waits, none is kept idle.
		c.dialsWaiting.Add(1)
		c.closeIdle()
		select {
		case c.slots <- struct{}{}:
			c.dialsWaiting.Add(-1)
		case <-ctx.Done():
			c.dialsWaiting.Add(-1)
			return nil, context.Cause(ctx)
		case <-reqCtx.Done():
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

func (c *pool) dial(ctx context.Context) (*poolConn, error) {
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	c.open.Add(1) // poolConn.close takes it back
	pc := &poolConn{pool: c, nc: nc, headerLeft: -1, peek: newPeeker(nc)}
	pc.expire = func() { nc.SetDeadline(aLongTimeAgo) }
	pc.br = bufio.NewReader(pc)
	pc.bw = bufio.NewWriter(nc)
	return pc, nil
}

// put returns a connection whose exchange ended cleanly: to the oldest
// request waiting for one, else to the pool. While a dial of the Transport
// waits for a slot, it is closed instead, which frees one.
func (c *pool) put(pc *poolConn) {
	c.mu.Lock()
	if c.closed || len(c.idle) >= maxIdleConns || c.dialsWaiting.Load() > 0 {
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
func (c *pool) closeExpired() {
	c.mu.Lock()
	c.sweep = nil
	var expired []*poolConn
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

// closeIdle closes the pool's idle connections.
func (c *pool) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// close closes the idle connections and refuses new exchanges. Those under
// way end as they would have; their connections are then closed.
func (c *pool) close() {
	c.mu.Lock()
	c.closed = true
	if c.sweep != nil {
		c.sweep.Stop()
		c.sweep = nil
	}
	c.mu.Unlock()
	c.closeIdle()
}
