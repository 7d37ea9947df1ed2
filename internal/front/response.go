package front

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of a request the front end serves.
// It frames the response as net/http's server does for an HTTP/1.1
// request (the same Content-Length, chunking, Content-Type sniffing, Date,
// Connection: close and suppressed fields), with one difference: the
// header is read when it is sent, at the first Write, Flush or the
// handler's return, not copied at WriteHeader.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	isHEAD bool

	status        int
	wroteHeader   bool // a final status is set
	committed     bool // the head is written (gathered or sent)
	handlerDone   bool
	contentLength int64 // -1: not declared
	written       int64
	chunking      bool
	closeAfter    bool
	finished      atomic.Bool // the handler returned: the response is sent (atomic, for late callers)
	pre           []byte      // body written before the head, at most preSize
	// Content-Length as WriteHeader saw it, which the head sends whatever
	// the handler does to the field after (as net/http, which copies the
	// header at WriteHeader): the framing and the field never disagree.
	hasLength  bool
	lengthOne  string   // its value, when it has one
	lengthMany []string // a copy of its values, when it has more
}

// errFinished is what a response used after its handler returned says.
var errFinished = errors.New("front: response written after its handler returned")

// Header returns the response's header map until the handler returns;
// after, a map of its own each time, as the connection reuses the
// response's for its next request.
func (w *response) Header() http.Header {
	if w.finished.Load() {
		return http.Header{}
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader || w.finished.Load() {
		w.c.s.logger().Warn("http: superfluous response.WriteHeader call", "code", code, "path", w.req.URL.Path)
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		// An interim response (RFC 9110 §15.2) leaves at once, with the
		// fields set so far, which stay for the final one (RFC 8297).
		w.c.out = appendStatusLine(w.c.out, code)
		w.c.out = w.appendFields(w.c.out, noBodyFields)
		w.c.out = append(w.c.out, "\r\n"...)
		w.c.flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.s.logger().Warn("http: invalid Content-Length", "value", cl)
			w.header.Del("Content-Length")
		}
	}
	if v, ok := w.header["Content-Length"]; ok {
		w.hasLength = true
		if len(v) == 1 {
			w.lengthOne = v[0]
		} else {
			w.lengthMany = append(make([]string, 0, len(v)), v...) // never nil
		}
	}
}

// noBodyFields are left out of interim responses.
var noBodyFields = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func (w *response) Write(p []byte) (int, error) {
	if w.finished.Load() {
		return 0, errFinished
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if w.holdsBody() && len(w.pre)+len(p) <= preSize {
			w.pre = append(w.pre, p...)
			return len(p), nil
		}
		w.commit(p)
	}
	if err := w.writeBody(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// holdsBody reports whether body bytes must wait before the head goes:
// the head depends on them when no Content-Length is declared (the
// handler may end before there is more, and the length is then known),
// or when the Content-Type is to be sniffed from them.
func (w *response) holdsBody() bool {
	return w.contentLength == -1 || w.sniffs()
}

func (w *response) sniffs() bool {
	_, haveType := w.header["Content-Type"]
	return !haveType && bodyAllowed(w.status) && w.header.Get("Content-Encoding") == "" &&
		w.header.Get("Transfer-Encoding") == ""
}

// Flush sends the head and what is written so far.
func (w *response) Flush() {
	if w.finished.Load() {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(nil)
	}
	w.c.flush()
}

// commit writes the head, deciding the framing from the header, from
// whether the handler has returned, and from the body's first bytes: those
// held, then p.
func (w *response) commit(p []byte) {
	w.committed = true
	h := w.header
	code := w.status
	switch cur := h["Content-Length"]; {
	case !w.hasLength:
		delete(h, "Content-Length")
	case w.lengthMany != nil:
		h["Content-Length"] = w.lengthMany
	case len(cur) != 1 || cur[0] != w.lengthOne:
		h["Content-Length"] = []string{w.lengthOne}
	}
	first := p
	if len(w.pre) > 0 {
		first = append(w.pre[:len(w.pre):len(w.pre)], p...)
	}

	te := h.Get("Transfer-Encoding")
	hasTE := te != ""
	var setLength, setType, setConnection, setTE string
	if w.handlerDone && !hasTE && !w.hasTrailers() && bodyAllowed(code) && !w.hasLength && (!w.isHEAD || len(first) > 0) {
		w.contentLength = int64(len(first))
		setLength = strconv.Itoa(len(first))
	}
	if w.req.Close || w.c.s.shutdown.Load() || h.Get("Connection") == "close" {
		w.closeAfter = true
	}
	hasCL := w.contentLength != -1
	if bodyAllowed(code) {
		if w.sniffs() && len(first) > 0 {
			setType = http.DetectContentType(first)
		}
	} else {
		if code == http.StatusNotModified {
			h.Del("Content-Type")
		}
		h.Del("Content-Length")
		h.Del("Transfer-Encoding")
	}
	var date []byte
	if _, ok := h["Date"]; !ok {
		date = w.c.dateNow()
	}
	if hasCL && hasTE && te != "identity" {
		w.c.s.logger().Warn("http: both Transfer-Encoding and Content-Length", "transfer-encoding", te, "content-length", w.contentLength)
		h.Del("Content-Length")
		hasCL = false
	}
	switch {
	case w.isHEAD || !bodyAllowed(code) || code == http.StatusNoContent || hasCL:
		h.Del("Transfer-Encoding")
	case hasTE && te == "identity":
		w.closeAfter = true
		h.Del("Transfer-Encoding")
	default:
		w.chunking = true
		setTE = "chunked"
		h.Del("Transfer-Encoding")
		h.Del("Content-Length")
	}
	if w.closeAfter && !hasToken(h.Get("Connection"), "close") {
		h.Del("Connection")
		setConnection = "close"
	}

	// The fields the server adds come after the handler's, in the order
	// net/http writes them.
	b := appendStatusLine(w.c.out, code)
	b = w.appendFields(b, nil)
	if date != nil {
		b = append(b, "Date: "...)
		b = append(b, date...)
		b = append(b, "\r\n"...)
	}
	for _, f := range [...][2]string{
		{"Content-Length", setLength}, {"Content-Type", setType}, {"Connection", setConnection}, {"Transfer-Encoding", setTE},
	} {
		if f[1] != "" {
			b = appendField(b, f[0], f[1])
		}
	}
	w.c.out = append(b, "\r\n"...)
	if len(w.pre) > 0 {
		pre := w.pre
		w.pre = nil
		w.writeBody(pre)
	}
}

// writeBody sends body bytes after the head, in a chunk when chunking.
func (w *response) writeBody(p []byte) error {
	if w.isHEAD || len(p) == 0 {
		return w.c.werr
	}
	if !w.chunking {
		return w.c.write(p)
	}
	w.c.out = strconv.AppendInt(w.c.out, int64(len(p)), 16)
	w.c.out = append(w.c.out, "\r\n"...)
	if err := w.c.write(p); err != nil {
		return err
	}
	w.c.out = append(w.c.out, "\r\n"...)
	return nil
}

// finish completes the response after the handler returned, and sends it.
func (w *response) finish() {
	if w.finished.Load() {
		return
	}
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(nil)
	}
	if w.chunking {
		w.c.out = append(w.c.out, "0\r\n"...)
		w.c.out = w.appendTrailers(w.c.out)
		w.c.out = append(w.c.out, "\r\n"...)
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowed(w.status) && w.contentLength != w.written {
		// Too short: what follows would be read as part of this body.
		w.closeAfter = true
	}
	w.finished.Store(true)
	w.c.flush()
}

// hasTrailers reports whether the handler declared trailer fields: named in
// Trailer, or set under http.TrailerPrefix. A response with trailers is
// chunked unless it declared a Content-Length, in which case they are
// dropped, as net/http does.
func (w *response) hasTrailers() bool {
	if _, ok := w.header["Trailer"]; ok {
		return true
	}
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// appendTrailers appends the trailer fields (RFC 9112 §7.1.2): the values,
// when the handler returned, of the fields named in Trailer, and those set
// under http.TrailerPrefix.
func (w *response) appendTrailers(b []byte) []byte {
	for _, v := range w.header["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			k := http.CanonicalHeaderKey(strings.Trim(name, " \t"))
			if !isToken(k) || notTrailer[k] {
				continue
			}
			for _, v := range w.header[k] {
				b = appendField(b, k, v)
			}
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && isToken(name) && !notTrailer[http.CanonicalHeaderKey(name)] {
			for _, v := range vs {
				b = appendField(b, name, v)
			}
		}
	}
	return b
}

// notTrailer are the fields a trailer must not carry (RFC 9110 §6.5.1:
// framing, routing, authentication, controls and the like), as net/http
// leaves them out.
var notTrailer = map[string]bool{
	"Authorization": true, "Cache-Control": true, "Connection": true, "Content-Encoding": true,
	"Content-Length": true, "Content-Range": true, "Content-Type": true, "Expect": true, "Host": true,
	"Keep-Alive": true, "Max-Forwards": true, "Pragma": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Range": true, "Realm": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Www-Authenticate": true,
}

// appendFields appends the header's fields, sorted by name as net/http
// writes them, leaving out names in skip and names that are not tokens.
// Line breaks in values become spaces, so a value never ends the head.
func (w *response) appendFields(b []byte, skip map[string]bool) []byte {
	keys := w.c.keys[:0]
	for k := range w.header {
		if !skip[k] && isToken(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.header[k] {
			b = appendField(b, k, v)
		}
	}
	clear(keys)
	w.c.keys = keys[:0]
	return b
}

func appendField(b []byte, k, v string) []byte {
	if needsCleaning(v) {
		v = strings.Trim(strings.NewReplacer("\r", " ", "\n", " ").Replace(v), " \t")
	}
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// needsCleaning reports whether v has a line break, or white space at
// either end, which appendField must not send as they are.
func needsCleaning(v string) bool {
	if v == "" {
		return false
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return true
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			return true
		}
	}
	return false
}

// appendStatusLine appends an HTTP/1.1 status line.
func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(code); text != "" {
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ' ')
		b = append(b, text...)
	} else {
		b = fmt.Appendf(b, "%03d status code %d", code, code)
	}
	return append(b, "\r\n"...)
}

// bodyAllowed reports whether a response with this status may have a
// body (RFC 9110 §6.4.1: not 1xx, 204 or 304).
func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199) && code != http.StatusNoContent && code != http.StatusNotModified
}

// dateNow returns the Date field value for now, formatted once a second.
func (c *conn) dateNow() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec || c.date == nil {
		c.dateSec = sec
		c.date = now.UTC().AppendFormat(c.date[:0], http.TimeFormat)
	}
	return c.date
}
