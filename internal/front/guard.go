package front

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A guarded connection is one that net/http's server reads: every
// connection handed off by the front end, and every connection when the
// front end is off (Server.NetOnly). net/http reads a request with both
// Transfer-Encoding and Content-Length as chunked and keeps the
// connection, and frames an HTTP/1.0 request by Content-Length, ignoring
// its Transfer-Encoding. A server or proxy in front of Hoard may read the
// same bytes the other way, and what one of them takes for a body the
// other takes for a request of its own: request smuggling. RFC 9112 §6.1
// allows refusing the first and requires treating the second as faulty
// framing, closing the connection after the answer. So Hoard answers both
// with 400 and closes, on whichever request of the connection they come.
//
// To see every request on the connection, not only the first, the guard
// follows the framing of the byte stream as net/http's server reads it:
// it holds each request head back until it has the whole of it, judges
// it, and then lets it and its body through (a body it counts, by
// Content-Length or chunk by chunk, without holding it). A head that must
// be refused never reaches net/http: the guard stops the stream before it
// (net/http sees the client end the connection once it asks for the next
// request), and answers 400 itself when net/http closes the connection.
// A head whose framing net/http refuses on its own (an unknown coding,
// Content-Length fields that differ), or a body net/http would find
// malformed, is let through and the stream ends after it: net/http
// answers it with its own error, and nothing after it can be read as a
// request. So the guard need only agree with net/http on the framing of
// what net/http accepts; where they could disagree, the stream ends.
//
// The guard also bounds what net/http cannot: a request head must arrive
// within the header timeout however it is spread (net/http times only the
// part after the first line arrives, and the guard holds heads back), a
// body that stops arriving for BodyTimeout ends the connection, and a
// write that makes no progress for WriteTimeout fails.

// maxChunkLine is the longest chunk-size line net/http reads (its
// internal maxLineLength).
const maxChunkLine = 4096

// stop is why a guarded stream ended early.
type stop int32

const (
	running stop = iota
	// opaque: the last bytes let through are a head or body net/http will
	// refuse; the stream ends after them.
	opaque
	// refused: a head was held back for good; the stream ends before it
	// and the guard answers it with 400.
	refused
)

// guardedConn is a connection net/http serves, seen through the guard.
type guardedConn struct {
	net.Conn
	g *guard

	// Read's state: one read at a time (net/http's serve loop or its
	// background read, never both).
	buf     []byte // read from the connection, not yet returned
	off     int    // buf[off:rel] may be returned
	rel     int    // buf[rel:] is a request head being held
	scanned int    // with a head held: buf[rel:scanned] has been scanned
	lines   int    // with a head held: the lines of it seen whole
	f       framer
	headBy  time.Time // with a head held: when it must be whole
	reason  string    // with refused: why

	stop    atomic.Int32 // a stop
	active  atomic.Bool  // net/http is serving a request (http.StateActive)
	idle    atomic.Bool  // net/http waits for the next request (http.StateIdle)
	eofSent atomic.Bool  // refused: net/http has been told the stream ended

	dlMu    sync.Mutex // guards netDL, setDL
	netDL   time.Time  // the read deadline net/http asked for
	setDL   time.Time  // the read deadline set on the connection
	closing sync.Once
	release func() // frees the connection's slot; nil: none
}

// guard holds a Server's settings for the connections it guards.
type guard struct {
	headerTimeout time.Duration // a whole head must arrive within it; 0: no bound
	bodyTimeout   time.Duration // a request body may pause this long; 0: no bound
	writeTimeout  time.Duration // a write may make no progress this long; 0: no bound
	maxHead       int           // the most head bytes held
	logger        *slog.Logger
}

// newGuard returns the guard for s's connections.
func (s *Server) newGuard() *guard {
	f := s.Fallback
	header := f.ReadHeaderTimeout
	if header <= 0 {
		header = f.ReadTimeout
	}
	maxHeader := f.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = http.DefaultMaxHeaderBytes
	}
	// net/http reads at most MaxHeaderBytes and 4 KiB of slack, plus
	// what its 4 KiB buffer held from before: a longer head is one it
	// answers 431, and the guard lets it through without judging it.
	return &guard{
		headerTimeout: max(header, 0),
		bodyTimeout:   max(s.BodyTimeout, 0),
		writeTimeout:  max(s.WriteTimeout, 0),
		maxHead:       maxHeader + 12<<10,
		logger:        s.logger(),
	}
}

func (g *guard) conn(c net.Conn, pending []byte, headBy time.Time, release func()) *guardedConn {
	gc := &guardedConn{Conn: c, g: g, release: release}
	gc.buf = make([]byte, len(pending), max(len(pending), 4<<10))
	copy(gc.buf, pending)
	gc.headBy = headBy
	gc.take()
	return gc
}

// connState follows net/http's view of a guarded connection: between
// requests the guard may end the stream; while a request is served it
// may not (net/http would take it for a client that went away, and
// cancel the request).
func connState(c net.Conn, state http.ConnState) {
	if gc, ok := c.(*guardedConn); ok {
		gc.active.Store(state == http.StateActive)
		gc.idle.Store(state == http.StateIdle)
	}
}

func (c *guardedConn) Read(p []byte) (n int, err error) {
	defer func() {
		// The guard reads untrusted bytes on net/http's connection
		// goroutine, where a panic would end the process: a bug of its
		// own ends only this connection, and is logged.
		if v := recover(); v != nil {
			c.stop.Store(int32(opaque))
			c.off, c.rel = len(c.buf), len(c.buf)
			c.g.logger.Error("front: panic in the framing guard", "remote", c.RemoteAddr().String(),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			n, err = 0, errGuardFailed
		}
	}()
	return c.read(p)
}

var errGuardFailed = errors.New("front: the framing guard failed")

func (c *guardedConn) read(p []byte) (int, error) {
	for {
		if c.off < c.rel {
			n := copy(p, c.buf[c.off:c.rel])
			c.off += n
			return n, nil
		}
		switch stop(c.stop.Load()) {
		case opaque:
			if c.active.Load() {
				return c.readWhileServing()
			}
			return 0, io.EOF
		case refused:
			return c.readRefused()
		}
		if len(p) == 0 {
			return 0, nil
		}
		if c.off == len(c.buf) {
			c.buf, c.off, c.rel, c.scanned = c.buf[:0], 0, 0, 0
			if n, err, ok := c.readBody(p); ok {
				return n, err
			}
		}
		if err := c.fill(); err != nil {
			if c.off < c.rel {
				continue // what came before the error first
			}
			return 0, err
		}
	}
}

// readBody reads a body framed by Content-Length straight into p, when
// nothing is buffered; ok is false when it cannot.
func (c *guardedConn) readBody(p []byte) (n int, err error, ok bool) {
	if c.f.state != inLength {
		return 0, nil, false
	}
	if int64(len(p)) > c.f.remain {
		p = p[:c.f.remain]
	}
	c.armRead()
	n, err = c.Conn.Read(p)
	c.f.remain -= int64(n)
	if c.f.remain == 0 {
		c.f.state = inHead
	}
	return n, err, true
}

// fill reads more of the connection into buf and lets through what the
// framing allows.
func (c *guardedConn) fill() error {
	if c.off > 0 {
		// Keep only what was not returned: a head held, or nothing.
		n := copy(c.buf, c.buf[c.off:])
		c.buf = c.buf[:n]
		c.rel -= c.off
		c.scanned -= c.off
		c.off = 0
	}
	if len(c.buf)-c.rel > c.g.maxHead {
		// Longer than any head net/http accepts: it answers 431.
		c.rel = len(c.buf)
		c.stop.Store(int32(opaque))
		return nil
	}
	if cap(c.buf)-len(c.buf) < 1<<10 {
		c.buf = append(c.buf, make([]byte, max(cap(c.buf), 4<<10))...)[:len(c.buf)]
	}
	c.armRead()
	n, err := c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
	c.buf = c.buf[:len(c.buf)+n]
	c.take()
	if n > 0 && c.off < c.rel {
		return nil // the error, if any, comes again on the next read
	}
	return err
}

// take runs the framing over the bytes not yet scanned: body bytes are let
// through as they come, a head once it is whole and judged.
func (c *guardedConn) take() {
	for stop(c.stop.Load()) == running {
		if c.f.state != inHead {
			n, ok := c.f.body(c.buf[c.rel:])
			c.rel += n
			c.scanned = c.rel
			if !ok {
				c.stop.Store(int32(opaque))
				return
			}
			if c.f.state != inHead {
				return // the body goes on past what was read
			}
			continue
		}
		h := c.buf[c.rel:]
		if len(h) == 0 {
			return
		}
		if c.headBy.IsZero() && c.g.headerTimeout > 0 {
			c.headBy = time.Now().Add(c.g.headerTimeout)
		}
		if c.f.afterPOST {
			// net/http skips up to 4 CR or LF bytes that an old client
			// sent after a POST's body (RFC 9112 §2.2), looking at the
			// first 4 bytes at once.
			if len(h) < 4 {
				return
			}
			n := 0
			for n < 4 && (h[n] == '\r' || h[n] == '\n') {
				n++
			}
			c.f.afterPOST = false
			c.rel += n
			c.scanned = c.rel
			continue
		}
		end, ok := c.headEnd()
		if !ok {
			return
		}
		head := c.buf[c.rel : c.rel+end]
		c.headBy, c.lines = time.Time{}, 0
		v := judge(head)
		switch {
		case v.refuse != "":
			c.reason = v.refuse
			c.buf = c.buf[:c.rel] // never to be read
			c.scanned = c.rel
			c.stop.Store(int32(refused))
			return
		case v.opaque:
			c.rel += end
			c.stop.Store(int32(opaque))
			return
		}
		c.rel += end
		c.scanned = c.rel
		c.f.begin(v)
	}
}

// headEnd finds the end of the head held at buf[rel:], scanning each byte
// once: the line that ends it is the first empty one after the request
// line, a line being what net/http's reader takes for one (up to a LF,
// less a CR before it).
func (c *guardedConn) headEnd() (int, bool) {
	h := c.buf[c.rel:]
	next := c.scanned - c.rel
	for {
		i := bytes.IndexByte(h[next:], '\n')
		if i < 0 {
			c.scanned = c.rel + next // the partial line is scanned again
			return 0, false
		}
		line := h[next : next+i]
		next += i + 1
		c.scanned = c.rel + next
		c.lines++
		if c.lines == 1 {
			continue // the request line, even empty (net/http refuses that)
		}
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return next, true
		}
	}
}

// armRead sets the connection's read deadline: net/http's, or sooner when
// a head is being held (it must be whole by headBy) or a body is being
// read (it must not pause for longer than the body timeout).
func (c *guardedConn) armRead() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	dl := c.netDL
	var own time.Time
	switch {
	case c.f.state == inHead && !c.headBy.IsZero():
		own = c.headBy
	case c.f.state != inHead && c.g.bodyTimeout > 0:
		own = time.Now().Add(c.g.bodyTimeout)
	}
	if !own.IsZero() && (dl.IsZero() || own.Before(dl)) {
		dl = own
	}
	if !dl.Equal(c.setDL) {
		c.setDL = dl
		c.Conn.SetReadDeadline(dl)
	}
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.netDL, c.setDL = t, t
	return c.Conn.SetReadDeadline(t)
}

func (c *guardedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// readRefused is a read once a head has been refused. Between requests
// it ends the stream, so that net/http closes the connection. While a
// request is served (the read is net/http's look-ahead for a client that
// goes away) it waits, discarding what the client sends, until the
// client goes or net/http stops the read.
func (c *guardedConn) readRefused() (int, error) {
	if !c.active.Load() {
		c.eofSent.Store(true)
		return 0, io.EOF
	}
	return c.readWhileServing()
}

// readWhileServing is a read of a stream that has ended early, made while
// net/http serves a request (its look-ahead for a client that goes away):
// an EOF would look like a client gone and cancel a request that may be
// whole and pipelined before the end. So it waits, discarding what the
// client sends, until the client goes or net/http stops the read; the
// next read between requests ends the stream.
func (c *guardedConn) readWhileServing() (int, error) {
	// net/http's deadline, or the body timeout if sooner: a read that
	// net/http needs for a body the guard found malformed (and net/http
	// might not) must not wait for ever. An earlier timeout of the
	// guard's own would look to net/http like a client gone.
	c.dlMu.Lock()
	dl := c.netDL
	if d := c.g.bodyTimeout; d > 0 {
		if own := time.Now().Add(d); dl.IsZero() || own.Before(dl) {
			dl = own
		}
	}
	if !c.setDL.Equal(dl) {
		c.setDL = dl
		c.Conn.SetReadDeadline(dl)
	}
	c.dlMu.Unlock()
	var scratch [512]byte
	for {
		if _, err := c.Conn.Read(scratch[:]); err != nil {
			return 0, err
		}
	}
}

// writeStep is the most written with one deadline.
const writeStep = 64 << 10

// Write fails once a write has made no progress for the write timeout.
func (c *guardedConn) Write(p []byte) (int, error) {
	if c.g.writeTimeout <= 0 {
		return c.Conn.Write(p)
	}
	n := 0
	for n < len(p) {
		c.Conn.SetWriteDeadline(time.Now().Add(c.g.writeTimeout))
		m, err := c.Conn.Write(p[n:min(len(p), n+writeStep)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close closes the connection: after answering the refused request with
// 400, if net/http was told the stream ended before it.
func (c *guardedConn) Close() error {
	err := net.ErrClosed
	c.closing.Do(func() {
		if c.release != nil {
			defer c.release()
		}
		if stop(c.stop.Load()) == refused && c.eofSent.Load() {
			refuse(c.Conn, "400 Bad Request", c.reason)
		}
		err = c.Conn.Close()
	})
	return err
}

// CloseWrite shuts the sending side, as net/http does before closing a
// connection with unread request bytes, so that its last answer (a 431,
// say) is not lost to a reset.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// refuse answers a request Hoard will not serve with status and a
// reason, then shuts the sending side and reads what the client still
// sends for a moment, so that the answer is not lost to a reset caused by
// unread request bytes. The caller closes c.
func refuse(c net.Conn, status, reason string) {
	body := status + ": " + reason + "\n"
	msg := fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
}

// verdict is what the guard makes of a request head.
type verdict struct {
	refuse  string // non-empty: answer 400 with this reason, and close
	opaque  bool   // net/http refuses the head: let it through, then end
	chunked bool
	length  int64
	post    bool
}

// judge reads a whole request head as net/http's server does (with
// net/textproto, up to the end of its fields) and tells how its body is
// framed (RFC 9112 §6.3).
func judge(head []byte) verdict {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	line, err := tp.ReadLine()
	if err != nil {
		return verdict{opaque: true}
	}
	method, rest, ok1 := strings.Cut(line, " ")
	_, proto, ok2 := strings.Cut(rest, " ")
	major, minor, ok3 := http.ParseHTTPVersion(proto)
	if !ok1 || !ok2 || !ok3 {
		return verdict{opaque: true}
	}
	fields, err := tp.ReadMIMEHeader()
	if err != nil {
		return verdict{opaque: true}
	}
	te, hasTE := fields["Transfer-Encoding"]
	cl, hasCL := fields["Content-Length"]
	http11 := major > 1 || major == 1 && minor >= 1
	switch {
	case hasTE && hasCL:
		return verdict{refuse: "Transfer-Encoding with Content-Length (RFC 9112 section 6.1)"}
	case hasTE && !http11:
		return verdict{refuse: "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)"}
	case hasTE:
		// net/http takes one field saying chunked, and answers 501 to
		// anything else.
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return verdict{opaque: true}
		}
		return verdict{chunked: true, post: method == http.MethodPost}
	case hasCL:
		// Several fields must agree; net/http answers 400 otherwise.
		first := textproto.TrimString(cl[0])
		for _, v := range cl[1:] {
			if textproto.TrimString(v) != first {
				return verdict{opaque: true}
			}
		}
		n, err := strconv.ParseUint(first, 10, 63)
		if err != nil {
			return verdict{opaque: true}
		}
		return verdict{length: int64(n), post: method == http.MethodPost}
	}
	return verdict{post: method == http.MethodPost}
}

// The states of a framer.
const (
	inHead      = iota // between requests, or in a head
	inLength           // in a body framed by Content-Length
	inChunkSize        // in a chunk-size line
	inChunkData        // in a chunk's data
	inChunkEnd         // in the CRLF after a chunk's data
	inTrailer          // in the trailer section after the last chunk
)

// framer follows request bodies through a byte stream as net/http's
// server reads them (RFC 9112 §6 and §7.1).
type framer struct {
	state     int
	remain    int64  // inLength, inChunkData: bytes left
	line      []byte // inChunkSize: the line so far
	crlf      int    // inChunkEnd: bytes of the CRLF seen
	lineLen   int    // inTrailer: bytes of the current line seen, before its LF
	lastCR    bool   // inTrailer: the last byte seen was a CR
	afterPOST bool   // the last request was a POST
}

// begin starts the body of a request judged v.
func (f *framer) begin(v verdict) {
	f.afterPOST = v.post
	switch {
	case v.chunked:
		f.state = inChunkSize
		f.line = f.line[:0]
	case v.length > 0:
		f.state, f.remain = inLength, v.length
	default:
		f.state = inHead
	}
}

// body follows the body through b and returns how many bytes of b belong
// to it. It stops at the body's end (the state is then inHead) or when
// the body is malformed (ok false: net/http will fail reading it).
func (f *framer) body(b []byte) (n int, ok bool) {
	for n < len(b) && f.state != inHead {
		switch f.state {
		case inLength, inChunkData:
			k := int(min(int64(len(b)-n), f.remain))
			n += k
			f.remain -= int64(k)
			if f.remain == 0 {
				if f.state == inLength {
					f.state = inHead
				} else {
					f.state, f.crlf = inChunkEnd, 0
				}
			}
		case inChunkSize:
			i := bytes.IndexByte(b[n:], '\n')
			if i < 0 {
				f.line = append(f.line, b[n:]...)
				n = len(b)
				if len(f.line) > maxChunkLine+1 {
					return n, false
				}
				continue
			}
			f.line = append(f.line, b[n:n+i+1]...)
			n += i + 1
			size, ok := chunkSize(f.line)
			f.line = f.line[:0]
			if !ok {
				return n, false
			}
			if size == 0 {
				f.state, f.lineLen, f.lastCR = inTrailer, 0, false
			} else {
				f.state, f.remain = inChunkData, int64(size)
			}
		case inChunkEnd:
			if b[n] != "\r\n"[f.crlf] {
				return n, false
			}
			n++
			if f.crlf++; f.crlf == 2 {
				f.state = inChunkSize
			}
		case inTrailer:
			// Field lines until an empty one, as net/http reads the
			// trailer section (RFC 9112 §7.1.2).
			c := b[n]
			n++
			if c != '\n' {
				f.lineLen++
				f.lastCR = c == '\r'
				continue
			}
			if f.lineLen == 0 || f.lineLen == 1 && f.lastCR {
				f.state = inHead
			}
			f.lineLen, f.lastCR = 0, false
		}
	}
	return n, true
}

// chunkSize reads a chunk-size line, with its CRLF, as net/http does
// (RFC 9112 §7.1): hex digits, then optional white space and extensions.
// A line ended by a bare LF, or with a CR elsewhere, is malformed.
func chunkSize(line []byte) (uint64, bool) {
	if len(line) < 2 || bytes.IndexByte(line, '\r') != len(line)-2 {
		return 0, false
	}
	line = line[:len(line)-2]
	if len(line) >= maxChunkLine {
		return 0, false
	}
	line = bytes.TrimRight(line, " \t")
	line, _, _ = bytes.Cut(line, []byte(";"))
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(line), 16, 64)
	// A chunk larger than 2^63-1 bytes is one net/http would read for
	// ever; the guard ends the stream instead.
	return n, err == nil && n <= 1<<63-1
}
