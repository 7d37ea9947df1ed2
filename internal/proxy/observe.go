package proxy

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/accesslog"
	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/metrics"
	"github.com/hoard-cache/hoard/internal/origin"
)

// tally is the ResponseWriter ServeHTTP hands down when Options.Metrics or
// Options.AccessLog is set. It notes what a request's record needs as the
// response goes by: the status, the body bytes, when the header went, the
// Cache-Status the handler decided (noteStatus) and the request's own
// origin exchange (noteOrigin). observe turns them into metrics and an
// access log line once, when ServeHTTP returns; nothing on the way decides
// anything twice.
//
// Tallies come from a pool, so that a hit allocates none. That is safe
// because nothing keeps the ResponseWriter past ServeHTTP: what outlives a
// request (a fill, a background revalidation) keeps the request, the
// response or the flight, never the writer.
type tally struct {
	http.ResponseWriter
	start, header time.Time // when the request came, when its final header went
	status        int       // the final status sent, 0 until then
	bytes         int64     // body bytes written
	cs            httpcache.CacheStatus
	noted         bool // cs was set
	made          bool // Hoard made the answer itself (writeError)
	originStatus  int  // this request's own origin exchange: its status...
	originTime    time.Duration
}

var tallies = sync.Pool{New: func() any { return new(tally) }}

func (t *tally) WriteHeader(code int) {
	if t.status == 0 && code >= 200 { // not an interim response (RFC 9110 §15.2)
		t.status, t.header = code, time.Now()
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tally) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.status, t.header = http.StatusOK, time.Now()
	}
	n, err := t.ResponseWriter.Write(p)
	t.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's fast path of a writer that has one (net/http's
// does), counting what it wrote.
func (t *tally) ReadFrom(src io.Reader) (int64, error) {
	if t.status == 0 {
		t.status, t.header = http.StatusOK, time.Now()
	}
	var n int64
	var err error
	if rf, ok := t.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		bufp := bufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{t.ResponseWriter}, src, *bufp)
		bufPool.Put(bufp)
	}
	t.bytes += n
	return n, err
}

// writerOnly hides every method of a writer but Write, so that io.Copy
// does not call ReadFrom again.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the writer's Flush.
func (t *tally) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// noteStatus tells the request's tally, if it has one, the Cache-Status
// of its answer, and whether Hoard made the answer itself.
func noteStatus(w http.ResponseWriter, cs httpcache.CacheStatus, made bool) {
	if t, ok := w.(*tally); ok {
		t.cs, t.noted, t.made = cs, true, made
	}
}

// noteOrigin tells the request's tally, if it has one, how its origin
// exchange went.
func noteOrigin(w http.ResponseWriter, status int, d time.Duration) {
	if t, ok := w.(*tally); ok {
		t.originStatus, t.originTime = status, d
	}
}

// observing reports whether requests are tallied.
func (h *Handler) observing() bool {
	return h.opts.Metrics != nil || h.opts.AccessLog != nil || h.opts.TopURLs != nil
}

// startTally returns the tally of a request that arrived now, around w.
func startTally(w http.ResponseWriter) *tally {
	t := tallies.Get().(*tally)
	t.ResponseWriter, t.start = w, time.Now()
	return t
}

// observe counts the request t tallied, logs it, and gives t back.
func (h *Handler) observe(t *tally, r *http.Request) {
	end := time.Now()
	rec := metrics.Request{Method: metrics.ClassOf(r.Method), Bytes: t.bytes, Coalesced: t.cs.Collapsed}
	rec.Outcome, rec.Stale = outcomeOf(t)
	if t.status != 0 {
		rec.FirstByte = t.header.Sub(t.start)
	}
	h.opts.Metrics.Served(&rec)
	h.opts.TopURLs.Count(r.URL.Path, rec.Outcome == metrics.Miss) // the path alone: a query may hold a secret
	if l := h.opts.AccessLog; l != nil {
		e := accesslog.Entry{
			Time: t.start, Client: r.RemoteAddr, Method: r.Method, Target: r.RequestURI, Proto: r.Proto,
			Status: t.status, Bytes: t.bytes, Duration: end.Sub(t.start),
			OriginStatus: t.originStatus, OriginDuration: t.originTime,
			Referer: first(r.Header["Referer"]), UserAgent: first(r.Header["User-Agent"]),
		}
		// The field sent, as sent: for most hits one of the ready-made
		// fields, so not formatted again.
		e.CacheStatus = first(t.ResponseWriter.Header()["Cache-Status"])
		l.Write(&e)
	}
	*t = tally{}
	tallies.Put(t)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// outcomeOf reads the cache outcome off the Cache-Status the request was
// answered with.
func outcomeOf(t *tally) (metrics.Outcome, metrics.StaleReason) {
	cs := t.cs
	switch {
	case !t.noted || t.made:
		// No answer (the client went before it), or one of Hoard's own.
		return metrics.Error, 0
	case cs.Detail == reasonStaleWhileRevalidate:
		return metrics.Stale, metrics.StaleWhileRevalidate
	case cs.Detail == reasonStaleIfError:
		return metrics.Stale, metrics.StaleIfError
	case cs.Hit && cs.Detail == httpcache.ReasonMaxStale:
		return metrics.Stale, metrics.MaxStale
	case cs.Collapsed:
		return metrics.Collapsed, 0
	case cs.Hit:
		return metrics.Hit, 0
	case cs.Fwd == httpcache.FwdBypass || cs.Fwd == httpcache.FwdMethod:
		return metrics.Pass, 0
	case cs.FwdStatus == http.StatusNotModified && (cs.Fwd == httpcache.FwdStale || cs.Fwd == httpcache.FwdRequest):
		return metrics.Revalidated, 0
	}
	return metrics.Miss, 0
}

// countOrigin counts an origin exchange that took d to its response header
// or its failure.
func (h *Handler) countOrigin(resp *http.Response, err error, d time.Duration) {
	if h.opts.Metrics == nil {
		return
	}
	if err == nil {
		h.opts.Metrics.Origin(resp.StatusCode, metrics.OriginAnswered, d)
		return
	}
	failure := metrics.OriginUnreachable
	switch origin.Classify(err).Kind {
	case origin.Timeout:
		failure = metrics.OriginTimeout
	case origin.InvalidResponse:
		failure = metrics.OriginInvalid
	}
	h.opts.Metrics.Origin(0, failure, d)
}

// OriginConns returns the number of connections open to the origin, for
// a gauge (origin.Client.OpenConns).
func (h *Handler) OriginConns() int { return h.origin.OpenConns() }
