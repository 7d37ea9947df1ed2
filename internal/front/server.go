// Package front is Hoard's client-facing HTTP/1.1 server: it serves the
// plainest requests (a GET or HEAD with no body, which is what a cache hit
// is) on its own, and hands every other connection to a net/http server.
//
// Why: on a cache hit, net/http's server costs more CPU than the handler
// does. For each request it allocates the request's header twice over, a
// copy of the response header (taken at WriteHeader), a context with its
// cancel, and starts a goroutine that reads ahead on the connection to
// notice a client that goes away, with two deadline changes to stop it.
// The front end parses a plain request into one string, writes the
// response's header and body with one system call, and watches the client
// only when the handler waits for something (a context's Done), which a
// hit never does.
//
// What it does not parse, it does not judge: a request with a body, an
// HTTP/1.0 request, one with Expect, Upgrade, an absolute-form target, an
// odd Host or a malformed line goes, from its first byte, to the net/http
// server given as Fallback, which then serves that connection to its end.
// So net/http's checks (header limits, 400s) stay the ones that decide on
// anything unusual, and the front end only has to be right about what it
// accepts. One check is Hoard's own, made on every request of a
// connection net/http serves (see guard.go): a request with both
// Transfer-Encoding and Content-Length, or Transfer-Encoding in HTTP/1.0,
// is answered 400 and its connection closed (RFC 9112 §6.1), where
// net/http would read the body as chunked and go on.
//
// Of the Fallback's settings, the front end uses Handler, ReadTimeout,
// ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes, BaseContext and
// ConnContext. It does not see SetKeepAlivesEnabled or WriteTimeout (the
// Server's own WriteTimeout replaces it), and its ResponseWriter is not a
// Hijacker: Hoard uses none of them. Serve chains a ConnState of its own
// before the Fallback's, which sees only the connections handed to it. Its ResponseWriter reads the header when the head is sent,
// except Content-Length, which is taken at WriteHeader as net/http takes
// the whole header.
//
// A connection reuses the request's header map and the response's from
// one request to the next, so a handler must not keep either once it has
// returned (net/http already says so of the ResponseWriter): a copy of
// what it needs, not the map.
package front

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.1 with Fallback's handler and settings. Its
// Handler, ReadHeaderTimeout, IdleTimeout, ConnContext and ErrorLog are
// used for the requests the front end serves; Fallback serves the
// connections handed to it. Fallback must not be started elsewhere.
type Server struct {
	Fallback *http.Server
	Logger   *slog.Logger // for handler panics; nil means slog.Default

	// WriteTimeout is how long a write to a client may make no progress
	// (the client reads nothing) before it fails and the connection is
	// closed. Zero means no bound.
	WriteTimeout time.Duration
	// BodyTimeout is how long a request body may stop arriving before the
	// connection is closed. Zero means no bound.
	BodyTimeout time.Duration
	// MaxConns bounds the client connections open at once. At the bound,
	// an idle keep-alive connection is closed to make room; when none is
	// idle, new connections wait (in the listener's backlog) for one to
	// end. Zero means no bound.
	MaxConns int
	// NetOnly hands every connection to Fallback from its first byte, so
	// that net/http's server serves every request: a way to rule the
	// front end out. The guard (see guard.go) still sees every request.
	NetOnly bool

	mu       sync.Mutex
	conns    map[*conn]struct{}        // guarded by mu; served by the front end
	handed   map[*guardedConn]struct{} // guarded by mu; served by Fallback
	ln       net.Listener
	handoff  *handoffListener
	guard    *guard
	slots    chan struct{} // a token for each open connection, with MaxConns
	done     chan struct{} // closed by Shutdown or Close
	shutdown atomic.Bool
}

// New returns a Server in front of fallback.
func New(fallback *http.Server, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{Fallback: fallback, Logger: logger}
}

// Serve accepts connections on ln until it fails or Shutdown or Close is
// called, then returns http.ErrServerClosed or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	switch {
	case s.shutdown.Load():
		s.mu.Unlock()
		return http.ErrServerClosed
	case s.ln != nil:
		s.mu.Unlock()
		return errors.New("front: Serve called twice; a Server serves one listener")
	}
	handoff := newHandoffListener(ln.Addr())
	s.ln, s.handoff = ln, handoff
	s.conns = make(map[*conn]struct{})
	s.handed = make(map[*guardedConn]struct{})
	s.guard = s.newGuard()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	if s.MaxConns > 0 {
		s.slots = make(chan struct{}, s.MaxConns)
	}
	s.mu.Unlock()
	fallback := s.Fallback
	theirs := fallback.ConnState
	fallback.ConnState = func(c net.Conn, state http.ConnState) {
		connState(c, state)
		if theirs != nil {
			theirs(c, state)
		}
	}
	go fallback.Serve(handoff) // returns once handoff is closed

	baseCtx := context.Background()
	if s.Fallback.BaseContext != nil {
		baseCtx = s.Fallback.BaseContext(ln)
	}
	baseCtx = context.WithValue(baseCtx, http.ServerContextKey, s.Fallback)

	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err == nil && !s.takeSlot() {
			rwc.Close()
			return http.ErrServerClosed
		}
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			if isTemporary(err) {
				// Out of file descriptors and the like: wait, as net/http
				// does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.NetOnly {
			if !s.handOffConn(rwc, nil, time.Time{}) {
				return http.ErrServerClosed
			}
			continue
		}
		c := s.newConn(baseCtx, rwc)
		if c == nil {
			rwc.Close()
			s.freeSlot()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// takeSlot waits for room for a connection just accepted, with MaxConns:
// at the bound, it closes an idle keep-alive connection, or waits for one
// to end or become idle, while further connections wait in the listener's
// backlog. It returns false once the server is shutting down.
func (s *Server) takeSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeOneIdle()
		select {
		case s.slots <- struct{}{}:
			return true
		case <-s.done:
			return false
		case <-tick.C:
		}
	}
}

// freeSlot gives back the slot of a connection that has ended.
func (s *Server) freeSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// closeOneIdle closes one connection that waits for its next request.
func (s *Server) closeOneIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		// Not one that waits for its first request: that client has just
		// connected, and may be the one waiting for room.
		if c.kept.Load() && c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rwc.Close()
			return
		}
	}
	for c := range s.handed {
		if c.idle.Load() {
			// net/http sees its read fail and closes the connection,
			// which frees the slot.
			c.Conn.Close()
			return
		}
	}
}

// isTemporary reports whether err says it is temporary (EMFILE, ENFILE,
// ECONNABORTED...), as net/http's accept loop asks.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) newConn(baseCtx context.Context, rwc net.Conn) *conn {
	ctx := context.WithValue(baseCtx, http.LocalAddrContextKey, rwc.LocalAddr())
	if s.Fallback.ConnContext != nil {
		ctx = s.Fallback.ConnContext(ctx, rwc)
	}
	c := newConn(s, rwc, ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

// handOff gives a connection the front end has served to the fallback
// server; pending are the bytes already read from it, which the fallback
// reads first, and headBy, if not zero, is when the head they begin must
// be whole.
func (s *Server) handOff(c *conn, pending []byte, headBy time.Time) {
	s.forget(c)
	s.handOffConn(c.rwc, pending, headBy)
}

// handOffConn gives rwc to the fallback server, guarded. It returns false
// if the fallback has closed.
func (s *Server) handOffConn(rwc net.Conn, pending []byte, headBy time.Time) bool {
	var gc *guardedConn
	gc = s.guard.conn(rwc, pending, headBy, func() {
		s.mu.Lock()
		delete(s.handed, gc)
		s.mu.Unlock()
		s.freeSlot()
	})
	s.mu.Lock()
	s.handed[gc] = struct{}{}
	s.mu.Unlock()
	if !s.handoff.give(gc) {
		gc.Close() // the fallback is shutting down
		return false
	}
	return true
}

// forget drops c from the connections the front end serves.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeDone closes s.done, once.
func (s *Server) closeDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// Shutdown stops accepting, closes idle connections, lets the requests in
// flight finish (their connections close after them), and shuts the
// fallback down the same way. If ctx ends first, it returns ctx's error;
// Close then cuts what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeDone()
	s.mu.Lock()
	s.shutdown.Store(true)
	ln, handoff := s.ln, s.handoff
	s.mu.Unlock()
	if ln == nil {
		return s.Fallback.Shutdown(ctx)
	}
	ln.Close()
	fallbackDone := make(chan error, 1)
	go func() { fallbackDone <- s.Fallback.Shutdown(ctx) }()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			<-fallbackDone
			return ctx.Err()
		case <-tick.C:
		}
	}
	handoff.Close()
	return <-fallbackDone
}

// closeIdle closes the connections waiting for a request and returns how
// many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rwc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns)
}

// Close closes the listener and every connection at once, and the
// fallback with them.
func (s *Server) Close() error {
	s.closeDone()
	s.mu.Lock()
	s.shutdown.Store(true)
	if s.ln != nil {
		s.ln.Close()
		s.handoff.Close()
	}
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.rwc.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	return s.Fallback.Close()
}

// handoffListener is the listener the fallback server accepts handed-off
// connections from.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to the fallback's accept loop; false if it has closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// OpenConns returns the number of client connections open: those the
// front end serves and those it handed to Fallback.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.handed)
}
