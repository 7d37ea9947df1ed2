package origin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// poolConn is one keep-alive connection to the origin.
type poolConn struct {
	pool   *pool
	nc     net.Conn
	br     *bufio.Reader // reads through the poolConn itself, to count and limit
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
// response header to maxHeaderBytes.
func (pc *poolConn) Read(p []byte) (int, error) {
	if pc.headerLeft == 0 {
		return 0, errHeaderTooLarge
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
// pool's lock, so it may be called with it held.
func (pc *poolConn) close() {
	pc.closeOnce.Do(func() {
		pc.nc.Close()
		pc.pool.open.Add(-1)
		if pc.pool.slots != nil {
			<-pc.pool.slots // a request waiting for a slot may now dial
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
func (pc *poolConn) roundTrip(r *http.Request) (*http.Response, error) {
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
	// through the net/http Transport do not yield.
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
	resp.Body = &poolBody{ctx: ctx, pc: pc, body: resp.Body, stop: stop, keep: keep}
	return resp, nil
}

// readResponse reads the final response to r, passing interim (1xx)
// responses to r's client trace (RFC 9110 §15.2).
func (pc *poolConn) readResponse(r *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(r.Context())
	for range maxInterimResponses + 1 {
		pc.headerLeft = maxHeaderBytes
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

// usable reports whether the origin has neither closed nor written to an
// idle connection: one that is readable while no request is outstanding
// holds an end of stream, or bytes that answer nothing (a 408, say), and
// must not carry a request.
func (pc *poolConn) usable() bool {
	return pc.br.Buffered() == 0 && !pc.peek.readable()
}

// release ends an exchange: the connection goes back to the pool when keep
// and the cancellation hook had not fired, and is closed otherwise.
func (pc *poolConn) release(stop func() bool, keep bool) {
	if stop() && keep {
		pc.pool.put(pc)
		return
	}
	pc.close()
}

// poolBody is a response body read from an poolConn. Read to its end,
// it puts the connection back in the pool; closed before that, it closes
// the connection (what is left of the body is not read). Once it has ended,
// every Read reports how: io.EOF, the error that cut it, or
// errBodyClosed.
type poolBody struct {
	ctx  context.Context
	pc   *poolConn
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

func (b *poolBody) Read(p []byte) (int, error) {
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
func (b *poolBody) Close() error {
	b.finish(errBodyClosed)
	return nil
}

// finish ends the body with err, closing its connection, unless it had
// ended already.
func (b *poolBody) finish(err error) {
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
