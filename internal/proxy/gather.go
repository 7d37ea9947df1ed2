package proxy

import (
	"context"
	"io"
	"net"
	"sync"
)

// A stored response larger than net/http's connection buffer (4 KiB) leaves
// the server in two writes: the buffer, holding the status line, the header
// and the start of the body, and then the rest of the body straight from the
// stored bytes. Each write is a system call and wakes the client once. The
// connections of Listener let a hit join the two into one writev, as
// Varnish and nginx send a header and a body together.
//
// The Handler finds the connection in the request's context (ConnContext)
// and marks it before writing a stored body (gatherConn.hold). The next write
// that fits in holdSize is then copied aside instead of sent, and the write
// after it sends both with writev. The Handler flushes the response and
// calls gatherConn.release before it returns, which sends whatever is still
// held, so nothing is ever kept past the response that wrote it.

// holdSize is the most a gatherConn copies aside: net/http's connection
// buffer, which is what it flushes before a large write.
const holdSize = 4 << 10

// gatherMin is the smallest body worth holding for: net/http buffers up to
// 2 KiB of body itself, and a smaller one leaves with its header anyway.
const gatherMin = 2 << 10

var holdPool = sync.Pool{New: func() any { b := make([]byte, 0, holdSize); return &b }}

// Listener wraps ln so that the Handler can send a stored response's header
// and body in one write on the TCP connections it accepts. A server that
// uses it must also set ConnContext as its http.Server.ConnContext. Other
// connections (Unix sockets, TLS wrappers) are left as they are.
func Listener(ln net.Listener) net.Listener { return gatherListener{ln} }

type gatherListener struct{ net.Listener }

func (l gatherListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		return &gatherConn{TCPConn: tc}, nil
	}
	return c, err
}

type gatherKey struct{}

// testHookGathered, when set (by tests, before any server starts), is
// called by each write that sends a held write with it, before it does.
var testHookGathered func()

// ConnContext is the http.Server.ConnContext that goes with Listener: it
// makes the connection known to the Handler.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if gc, ok := c.(*gatherConn); ok {
		return context.WithValue(ctx, gatherKey{}, gc)
	}
	return ctx
}

// gatherFrom returns the gathering connection a request came on, or nil.
func gatherFrom(ctx context.Context) *gatherConn {
	gc, _ := ctx.Value(gatherKey{}).(*gatherConn)
	return gc
}

// gatherConn is a TCP connection that can hold back one small write and
// send it with the next. net/http writes to a connection from one goroutine
// at a time (the one serving its current request), so it needs no lock.
type gatherConn struct {
	*net.TCPConn
	armed bool
	held  *[]byte // a copy of the write held back, from holdPool
}

// hold makes the next write that fits in holdSize wait for the one after it.
// It does nothing on a nil connection.
func (c *gatherConn) hold() {
	if c != nil {
		c.armed = true
	}
}

// release sends what is held and ends holding. It must be called before the
// handler that called hold returns. It does nothing on a nil connection.
func (c *gatherConn) release() error {
	if c == nil {
		return nil
	}
	c.armed = false
	if c.held == nil {
		return nil
	}
	held := c.held
	c.held = nil
	_, err := c.TCPConn.Write(*held)
	putHeld(held)
	return err
}

func (c *gatherConn) Write(p []byte) (int, error) {
	switch {
	case c.held != nil:
		// The write after the held one: both leave in one writev.
		held := c.held
		c.held, c.armed = nil, false
		if testHookGathered != nil {
			// Before the write: once it is sent, the client may go on and
			// read the count before this goroutine would run again.
			testHookGathered()
		}
		bufs := net.Buffers{*held, p}
		n, err := bufs.WriteTo(c.TCPConn)
		n -= int64(len(*held))
		putHeld(held)
		if n < 0 {
			// The held bytes were reported written; they were not, but the
			// connection is broken either way.
			n = 0
		}
		return int(n), err
	case c.armed && len(p) <= holdSize:
		c.armed = false
		held := holdPool.Get().(*[]byte)
		*held = append((*held)[:0], p...)
		c.held = held
		return len(p), nil
	default:
		c.armed = false
		return c.TCPConn.Write(p)
	}
}

// ReadFrom sends what is held before the bytes it copies, which net/http's
// response.ReadFrom hands to the connection directly.
func (c *gatherConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.release(); err != nil {
		return 0, err
	}
	return c.TCPConn.ReadFrom(r)
}

func putHeld(b *[]byte) {
	*b = (*b)[:0]
	holdPool.Put(b)
}
