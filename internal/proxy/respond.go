package proxy

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// response is what is sent to a client: from the origin or from the store.
type response struct {
	status int
	header http.Header // not modified by stream
	body   io.Reader
	length int64 // body length, -1 when unknown
	// shared, when not nil, is the header a flight's followers get: the
	// stored fields, without those a qualified private keeps to this
	// client (RFC 9111 §5.2.2.7) and its Set-Cookie.
	shared http.Header
	// received is when the response arrived, the ResponseTime it is stored
	// with: late followers of its flight find it in the store by it.
	received time.Time
	// conditions says who answers the client's conditions on it.
	conditions conditionsBy
}

// conditionsBy says who evaluates a client's If-None-Match and
// If-Modified-Since on a response.
type conditionsBy uint8

const (
	// byOrigin: they went to the origin with the request, which answered
	// them; Hoard passes its answer on.
	byOrigin conditionsBy = iota
	// byHoardForOrigin: Hoard took them off to fetch the whole response:
	// it answers them on that response as the origin would have (RFC 9110
	// §13.2.2), without the Date stand-in. The response may be on its way
	// into the store, but is not stored yet: a body that turns out too
	// large is dropped after the header has gone.
	byHoardForOrigin
	// byCache: the response is one the store holds, or made from one (RFC
	// 9111 §4.3.2).
	byCache
)

// serveStored answers a request from a stored response (RFC 9111 §4),
// adding Age (§5.1) and answering the client's own conditions (RFC 9110
// §13.2).
func (h *Handler) serveStored(x *exchange, c *cached, d httpcache.Decision, cs httpcache.CacheStatus) {
	header := c.entry.Header
	if len(c.cc.NoCacheFields) > 0 || httpcache.HasUnshared(header) {
		// §5.2.2.4: fields a qualified no-cache names are not sent
		// without validation. Nor is a Set-Cookie, which an older Hoard
		// stored, in a disk or Redis store that outlived it.
		header = header.Clone()
		for _, f := range c.cc.NoCacheFields {
			header.Del(f)
		}
		httpcache.RemoveUnshared(header)
	}
	h.writeStored(x, c, header, d.Age, cs)
}

// writeStored writes the header of c (as header says, with Age) and streams
// its body.
func (h *Handler) writeStored(x *exchange, c *cached, header http.Header, age time.Duration, cs httpcache.CacheStatus) {
	w, r, e := x.w, x.r, &c.entry
	out := w.Header()
	for k, vs := range header {
		out[k] = vs
	}
	out["Age"] = ageField(age)
	length := c.contentLength // the body's Content-Length when the memo has it
	if length == "" {
		length = strconv.FormatInt(e.Size, 10)
	}
	if stored := header["Content-Length"]; len(stored) != 1 || stored[0] != length {
		// The stored field, when it says the same (as it does unless the
		// origin sent none), is sent as it is.
		out["Content-Length"] = []string{length}
	}
	h.finishHeader(out, cs)
	noteStatus(w, cs, false)
	if h.answerConditional(w, r, e.Status, header, byCache) {
		return
	}
	switch ranges, outcome := rangeRequest(r, e.Status, header, e.Size); outcome {
	case httpcache.RangeUnsatisfiable:
		h.writeUnsatisfiable(w, e.Size)
		return
	case httpcache.RangePartial:
		h.writeRanges(w, r, ranges, e.Size, c.body)
		return
	}
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead || !bodyAllowed(e.Status) {
		return
	}
	var dst io.Writer = w
	if e.Size > maxBodyWrite {
		dst = splitWriter{w}
	}
	_, err := io.Copy(dst, c.body)
	if err != nil {
		h.opts.Logger.Debug("client write failed", "path", r.URL.Path, "error", err)
	}
}

// maxBodyWrite is the most of a stored body written to a client in one
// call. One write of a whole large body is one system call that copies it
// all while the connection's goroutine waits; in pieces, the copies
// interleave with the other connections'. On hot 1 MiB hits, in six
// alternating rounds, 512 KiB pieces had a p99 of 43 to 57 ms (median 44)
// against 52 to 66 ms (median 56) for one write, and served about 5% more
// requests (bench/README.md).
const maxBodyWrite = 512 << 10

// splitWriter writes in pieces of at most maxBodyWrite.
type splitWriter struct{ w io.Writer }

func (s splitWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := s.w.Write(p[:min(len(p), maxBodyWrite)])
		written += n
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// finishHeader adds Via (RFC 9110 §7.6.3) and Cache-Status (RFC 9211) to a
// response header, and keeps net/http from adding a Content-Type. Shared
// slices from a stored header are never appended to.
func (h *Handler) finishHeader(out http.Header, cs httpcache.CacheStatus) {
	if prior := out["Via"]; len(prior) > 0 {
		out["Via"] = append(slices.Clip(prior), h.via)
	} else {
		out["Via"] = h.viaField // shared and never modified
	}
	out["Cache-Status"] = h.cacheStatusField(cs)
	if _, ok := out["Content-Type"]; !ok {
		// A nil field stops net/http from guessing a media type from the
		// body: the client gets the origin's fields, and none it lacked
		// (RFC 9110 §8.3).
		out["Content-Type"] = nil
	}
}

// hitStatusFields holds ready-made Cache-Status fields for plain hits with
// a remaining freshness of up to an hour, the common case on a busy cache;
// they are shared and never modified.
type hitStatusFields [3601][]string

// cacheStatusField returns the Cache-Status field for cs.
func (h *Handler) cacheStatusField(cs httpcache.CacheStatus) []string {
	if plain := (httpcache.CacheStatus{Hit: true, TTL: cs.TTL, TTLKnown: true}); cs == plain {
		if s := int64(cs.TTL / time.Second); s >= 0 && s < int64(len(h.hitFields)) {
			return h.hitFields[s]
		}
	}
	return []string{cs.String(h.opts.Name)}
}

// answerConditional sends 304 Not Modified when the client's GET or HEAD
// conditions, evaluated as by says, are met by a 200 (RFC 9110 §13.2.2,
// §15.4.5), and reports whether it did.
func (h *Handler) answerConditional(w http.ResponseWriter, r *http.Request, status int, header http.Header, by conditionsBy) bool {
	notModified := httpcache.NotModifiedByOrigin
	if by == byCache {
		notModified = httpcache.NotModified
	}
	if by == byOrigin || status != http.StatusOK || !notModified(r.Header, header) {
		return false
	}
	out := w.Header()
	keep := httpcache.NotModifiedHeader(header)
	for k := range out {
		if _, ok := keep[k]; !ok && k != "Age" && k != "Via" && k != "Cache-Status" {
			delete(out, k)
		}
	}
	w.WriteHeader(http.StatusNotModified)
	return true
}

// bodyAllowed reports whether a status may carry content (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// bufPool holds the buffers bodies are copied through. Their size is also
// the most a body may be to be filled in place (fill.go).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// stream sends resp to the client while writing its body to fl.bw (when
// not nil), and commits it only when the whole body arrived. A client that
// hangs up, or stops reading, does not stop the store from getting the
// whole body; a body that breaks is never committed, and the client's
// connection is then cut (http.ErrAbortHandler) so that a short body never
// looks complete. fl.after runs once the entry is committed. When fl.f is
// not nil, the response is published to the flight's followers (shared
// when it is being stored) and its body fed to them, even after this
// client has gone. fl.own is what the body needs until it has been read
// (hold.pass): stream releases it, or hands it to a fill that outlives the
// request.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, resp response, cs httpcache.CacheStatus, fl fill) {
	defer fl.own.release() // unless fillInBackground took it
	h.startFill(r, resp, cs, &fl)
	if fl.active() {
		h.streamFilled(w, r, resp, cs, &fl)
		return
	}
	client, toClient := h.writeClientHeader(w, r, resp, cs)
	if rd, ok := resp.body.(*flightReader); ok {
		h.copyFlight(w, r, rd, client, toClient)
		return
	}
	h.copyBody(w, r, resp.body, client, toClient)
}

// writeClientHeader sends the client the response header, or the answer
// its conditions (RFC 9110 §13.2) or a range (§14) call for instead. It
// returns where body bytes for the client go, and whether the client takes
// a body at all.
func (h *Handler) writeClientHeader(w http.ResponseWriter, r *http.Request, resp response,
	cs httpcache.CacheStatus) (io.Writer, bool) {
	out := w.Header()
	for k, vs := range resp.header {
		out[k] = vs
	}
	h.finishHeader(out, cs)
	noteStatus(w, cs, false)
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		h.answerConditional(w, r, resp.status, resp.header, resp.conditions) {
		return nil, false
	}
	wantsBody := r.Method != http.MethodHead && bodyAllowed(resp.status)
	switch ranges, outcome := rangeRequest(r, resp.status, resp.header, resp.length); {
	case outcome == httpcache.RangeUnsatisfiable:
		h.writeUnsatisfiable(w, resp.length)
		return nil, false
	case outcome == httpcache.RangePartial && len(ranges) == 1:
		// One range of a body still arriving: pass on only its bytes.
		// Several ranges are answered with the whole response, which a
		// server may always do (RFC 9110 §14.2).
		rg := ranges[0]
		out.Set("Content-Range", rg.ContentRange(resp.length))
		out.Set("Content-Length", strconv.FormatInt(rg.Length, 10))
		w.WriteHeader(http.StatusPartialContent)
		return &rangeFilter{w: w, start: rg.Start, end: rg.Start + rg.Length}, wantsBody
	}
	w.WriteHeader(resp.status)
	return w, wantsBody
}

// copyBody copies body to client (while toClient and the client takes it),
// for a response nothing else depends on.
func (h *Handler) copyBody(w http.ResponseWriter, r *http.Request, body io.Reader, client io.Writer, toClient bool) {
	if !toClient {
		return
	}
	flusher := http.NewResponseController(w)
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				h.opts.Logger.Debug("client write failed", "path", r.URL.Path, "error", werr)
				return
			}
			if err == nil && n < len(buf) {
				// The origin sent less than a buffer: pass it on now
				// rather than wait for more.
				_ = flusher.Flush() // a writer that cannot flush still delivers at the end
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			h.opts.Logger.Warn("origin body broke", "path", r.URL.Path, "error", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// copyFlight writes a flight's body to client as rd reads it, flushing
// whenever it has caught up with the fill. A body that broke cuts the
// connection; the fill has logged why.
func (h *Handler) copyFlight(w http.ResponseWriter, r *http.Request, rd *flightReader, client io.Writer, toClient bool) {
	if !toClient {
		return
	}
	flusher := http.NewResponseController(w)
	for {
		b, err := rd.next(false)
		if b == nil && err == nil {
			_ = flusher.Flush() // as in copyBody
			b, err = rd.next(true)
		}
		if len(b) > 0 {
			if _, werr := client.Write(b); werr != nil {
				h.opts.Logger.Debug("client write failed", "path", r.URL.Path, "error", werr)
				return
			}
			rd.advance(len(b))
			continue
		}
		if err == io.EOF {
			return
		}
		h.opts.Logger.Debug("body ended early", "path", r.URL.Path, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// ageFields holds ready-made Age fields for the first hour, so that most
// hits need not build one. They are shared and never modified.
var ageFields = func() [][]string {
	t := make([][]string, 3600)
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
}()

// ageField returns the Age field for age (RFC 9111 §5.1).
func ageField(age time.Duration) []string {
	if s := int64(age / time.Second); s >= 0 && s < int64(len(ageFields)) {
		return ageFields[s]
	}
	return []string{httpcache.FormatAge(age)}
}
