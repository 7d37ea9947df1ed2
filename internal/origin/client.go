package origin

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// staleConnRetries is how often a safe request is sent again after a
// pooled connection turned out to be closed by the origin.
const staleConnRetries = 2

// Client carries requests to the origin: it is an http.RoundTripper. Every
// error its RoundTrip returns is an *Error. It is safe for concurrent use.
type Client struct {
	// backends are the origins requests may go to, each with its own
	// connections, slots and backoff. There is one today; pick chooses.
	backends []*backend
}

// backend is one origin server: how requests reach it and the state that
// is its own (connections, connection slots, backoff).
type backend struct {
	opts Options
	// pool carries the requests without a body to a plain-http origin;
	// nil for https, or when Options.Transport is set.
	pool *pool
	// transport carries every request pool does not: an *http.Transport
	// made here, or Options.Transport.
	transport http.RoundTripper
	// ownTransport is set when transport was made here: Close closes it.
	ownTransport bool
	backoff      *backoff // nil when backoff is off
	// open counts the connections open to the origin: the pool's, and
	// those of the Transport made here (countedDial).
	open atomic.Int64
}

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Client{backends: []*backend{newBackend(opts)}}, nil
}

func newBackend(opts Options) *backend {
	b := &backend{opts: opts, transport: opts.Transport}
	if opts.MaxBackoff > 0 {
		b.backoff = &backoff{max: opts.MaxBackoff, clock: opts.Clock, log: opts.Logger}
	}
	if b.transport != nil {
		return b
	}
	b.ownTransport = true
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	t := newTransport(opts, countedDial(dialer.DialContext, &b.open))
	b.transport = t
	if opts.URL.Scheme != "http" {
		return b
	}
	addr := opts.URL.Host
	if opts.URL.Port() == "" {
		addr = net.JoinHostPort(opts.URL.Hostname(), "80")
	}
	b.pool = newPool(addr, opts.URL.Host, dialer, opts, &b.open)
	return b
}

// newTransport is the *http.Transport for the requests the pool does not
// carry: a keep-alive pool that never rewrites bodies (no transparent gzip)
// and gives up on an origin whose response header does not come in time.
func newTransport(opts Options, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // the origin is reached directly, whatever the environment says
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		MaxConnsPerHost:        opts.MaxConns,
		IdleConnTimeout:        opts.IdleConnTimeout,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  opts.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// RoundTrip sends r to the origin and returns its final response, or an
// *Error. The response body must be read to its end or closed.
func (c *Client) RoundTrip(r *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		b := c.pick(r)
		resp, stale, err := b.roundTrip(r)
		if err == nil && !validStatus(resp.StatusCode) {
			// The pool refuses these itself; net/http's Transport returns
			// them as final responses.
			resp.Body.Close()
			err = badStatus(resp.StatusCode)
		}
		if err == nil {
			return resp, nil
		}
		// A pooled connection the origin closed just before it was used:
		// nothing came back, so a safe request is sent again on another.
		// Here too, later, a request that failed on one origin will be
		// sent to the next.
		if !stale || !replayable(r) || attempt == staleConnRetries {
			return nil, newError(r.Context(), err)
		}
	}
}

// pick chooses the backend for r: the only one, today. Balancing among
// several, and skipping those a health check found down, go here.
func (c *Client) pick(*http.Request) *backend { return c.backends[0] }

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

// CloseIdleConnections closes the idle connections to every origin.
func (c *Client) CloseIdleConnections() {
	for _, b := range c.backends {
		if b.pool != nil {
			b.pool.closeIdle()
		}
		closeIdleConns(b.transport)
	}
}

// Close closes the idle connections and refuses new exchanges on Hoard's
// own connections; those under way end as they would have, and their
// connections are then closed. A Transport given in Options is left
// alone.
func (c *Client) Close() {
	for _, b := range c.backends {
		if !b.ownTransport {
			continue
		}
		if b.pool != nil {
			b.pool.close()
		}
		closeIdleConns(b.transport)
	}
}

// roundTrip makes one attempt at sending r to the backend. stale is the
// pool's (pool.roundTrip).
func (b *backend) roundTrip(r *http.Request) (resp *http.Response, stale bool, err error) {
	if b.backoff != nil {
		if err := b.backoff.admit(r); err != nil {
			return nil, false, err
		}
	}
	switch {
	case b.pool != nil && b.pool.carries(r):
		resp, stale, err = b.pool.roundTrip(r)
	case b.pool != nil && b.pool.slots != nil:
		resp, err = b.slottedTransport(r.Context()).RoundTrip(r)
	default:
		resp, err = b.transport.RoundTrip(r)
	}
	if b.backoff != nil {
		b.backoff.record(err)
	}
	return resp, stale, err
}

// slottedTransport is the Transport for one request with reqCtx when
// connections are bounded. The bound is one count for both pools: the
// Transport's connections take their slots from the pool's, and are not
// kept alive, where idle they would hold slots the pool's requests wait
// for. A connection is then the request's own, and so is the Transport,
// made for it: its dial waits for a slot until the request ends too,
// which the dial's context alone would not tell (dialSlotted). The
// request's context reaches the dial as a parameter of a closure, not as a
// context value.
func (b *backend) slottedTransport(reqCtx context.Context) *http.Transport {
	t := newTransport(b.opts, countedDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return b.pool.dialSlotted(ctx, reqCtx, network, addr)
	}, &b.open))
	t.MaxConnsPerHost = 0
	t.DisableKeepAlives = true
	return t
}

// closeIdleConns closes rt's idle connections, if it keeps any.
func closeIdleConns(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// OpenConns returns the number of connections open to the origin, idle
// ones included. Connections of an Options.Transport are not counted.
func (c *Client) OpenConns() int {
	n := int64(0)
	for _, b := range c.backends {
		n += b.open.Load()
	}
	return int(n)
}

// countedDial wraps dial so that open counts the connections it opened
// until they are closed.
func countedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error),
	open *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &countedConn{Conn: nc, open: open}, nil
	}
}

// countedConn takes itself off its count when first closed.
type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
