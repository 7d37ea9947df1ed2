package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/origin"
)

// errFlightAbandoned ends a coalesced fetch whose leader stopped before the
// response was complete.
var errFlightAbandoned = errors.New("the shared origin fetch ended early")

// outbound builds the request sent to the origin for r: the same method,
// target and fields, minus the hop-by-hop fields (RFC 9110 §7.6.1), with Via
// (RFC 9110 §7.6.3) and the forwarding fields of this hop (forwarded.go).
func (h *Handler) outbound(ctx context.Context, r *http.Request) *http.Request {
	// r.Clone, without copying the URL (replaced below), and with room in
	// the header for the fields added below.
	out := r.WithContext(ctx)
	out.Header = cloneHeader(r.Header, 6)
	if r.Trailer != nil {
		out.Trailer = r.Trailer.Clone()
	}
	out.RequestURI = ""
	origin := h.opts.Origin
	u := *origin
	u.Path = strings.TrimSuffix(origin.Path, "/") + r.URL.Path
	if r.URL.RawPath != "" || origin.RawPath != "" {
		u.RawPath = strings.TrimSuffix(origin.EscapedPath(), "/") + r.URL.EscapedPath()
	} else {
		u.RawPath = ""
	}
	u.RawQuery = r.URL.RawQuery
	u.ForceQuery = r.URL.ForceQuery
	u.Fragment, u.RawFragment = "", ""
	out.URL = &u
	out.Host = origin.Host
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil // a bodiless request must not make the transport send chunked framing
	} else if out.Body != nil {
		// The body is read on its way to the origin: a failure to read it
		// is the client's, which failOrigin must tell from the origin's.
		cb, ok := r.Body.(*clientBody)
		if !ok {
			cb = &clientBody{ReadCloser: r.Body}
			r.Body = cb
		}
		out.Body = cb
	}

	httpcache.RemoveHopByHop(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		// The client sent none: the origin gets none either, rather than
		// the name of Go's HTTP client, which net/http writes in its place
		// unless the field is present (RFC 9110 §10.1.5: the field tells
		// what the user agent is).
		out.Header["User-Agent"] = nil
	}
	h.setForwardingFields(out.Header, r)
	out.Header.Add("Via", viaValue(r.ProtoMajor, r.ProtoMinor, h.opts.Name))
	return out
}

// interimRelay passes an origin's interim responses on to w until end. A
// transport may read one after RoundTrip has returned (net/http's, once
// cancelled); by then w may be done with, and the front end reuses its
// header map for the connection's next request: late ones are dropped.
type interimRelay struct {
	w     http.ResponseWriter
	mu    sync.Mutex
	ended bool // guarded by mu
}

func (r *interimRelay) got(code int, hdr textproto.MIMEHeader) error {
	if code == http.StatusContinue || code == http.StatusSwitchingProtocols {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return nil
	}
	wh := r.w.Header()
	for k, vs := range hdr {
		wh[k] = vs
	}
	httpcache.RemoveHopByHop(wh)
	r.w.WriteHeader(code)
	clear(wh) // the final response starts from an empty header
	return nil
}

// end stops the relay; it waits for one under way.
func (r *interimRelay) end() {
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
}

// cloneHeader is h.Clone with room for extra more fields, so that adding
// them does not grow the map.
func cloneHeader(h http.Header, extra int) http.Header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	values := make([]string, n) // one array for them all, as h.Clone has
	c := make(http.Header, len(h)+extra)
	for k, vs := range h {
		if vs == nil {
			c[k] = nil
			continue
		}
		m := copy(values, vs)
		c[k] = values[:m:m]
		values = values[m:]
	}
	return c
}

func viaValue(major, minor int, name string) string {
	if major == 2 || major == 3 {
		return string(rune('0'+major)) + " " + name
	}
	return "1." + string(rune('0'+max(0, min(minor, 9)))) + " " + name
}

// roundTripTo is exchangeWithOrigin that also relays the origin's interim
// (1xx) responses, 100 and 101 excepted, to w (RFC 9110 §15.2).
func (h *Handler) roundTripTo(w http.ResponseWriter, out *http.Request) (*http.Response, context.CancelFunc, error) {
	return h.exchangeWithOrigin(w, true, out)
}

// exchangeWithOrigin sends out to the origin, giving up when the response
// header does not arrive within OriginTimeout. The returned cancel must be
// called once the response body is done with. An error is an
// *origin.Error. out must be a request made for this exchange: its context
// is replaced. The exchange is counted (Options.Metrics) and noted in w's
// tally, when w has one; with relay, interim responses go to w.
func (h *Handler) exchangeWithOrigin(w http.ResponseWriter, relay bool, out *http.Request) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithCancelCause(out.Context())
	if relay && w != nil && out.ProtoAtLeast(1, 1) { // never 1xx to an HTTP/1.0 client (RFC 9110 §15.2)
		relay := &interimRelay{w: w}
		defer relay.end()
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: relay.got})
	}
	timer := time.AfterFunc(h.opts.OriginTimeout, func() { cancel(origin.ErrTimeout) })
	// out is the caller's own, made for this exchange (outbound): it takes
	// the exchange's context in place, not in a copy.
	*out = *out.WithContext(ctx)
	// The cancellation's cause, origin.ErrTimeout, makes the client
	// report a timeout.
	start := time.Now()
	resp, err := h.origin.RoundTrip(out)
	timer.Stop()
	took := time.Since(start)
	h.countOrigin(resp, err, took)
	if err == nil {
		noteOrigin(w, resp.StatusCode, took)
	}
	if err != nil {
		cancel(nil)
		return nil, nil, err
	}
	// After the header, the body must keep moving: a read that waits longer
	// than OriginTimeout ends the exchange. Nothing else would: fetches run
	// without the client's context, so a stalled origin would pin the fetch
	// and its flight for good.
	resp.Body = newIdleBody(resp.Body, h.opts.OriginTimeout, func() { cancel(origin.ErrTimeout) })
	return resp, func() { cancel(nil) }, nil
}

// idleBody ends a body whose reads wait longer than d.
type idleBody struct {
	io.ReadCloser
	d time.Duration
	t *time.Timer
}

func newIdleBody(body io.ReadCloser, d time.Duration, expire func()) *idleBody {
	t := time.AfterFunc(d, expire)
	t.Stop()
	return &idleBody{ReadCloser: body, d: d, t: t}
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.t.Reset(b.d)
	n, err := b.ReadCloser.Read(p)
	b.t.Stop()
	return n, err
}

// serveForwarded passes a request the cache does not answer (any method but
// GET and HEAD) to the origin, and invalidates what the response says has
// changed (RFC 9111 §4.4).
func (h *Handler) serveForwarded(w http.ResponseWriter, r *http.Request) {
	out := h.outbound(r.Context(), r)
	resp, cancel, err := h.roundTripTo(w, out)
	if err != nil {
		h.failOrigin(w, r, err, httpcache.FwdMethod, false)
		return
	}
	defer cancel()
	defer resp.Body.Close()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, h.opts.Clock())
	if httpcache.Invalidates(r.Method, resp.StatusCode) {
		h.invalidateFor(r, resp.Header)
	}
	h.stream(w, r, response{
		status: resp.StatusCode, header: resp.Header, body: resp.Body, length: resp.ContentLength,
	}, httpcache.CacheStatus{Fwd: httpcache.FwdMethod, FwdStatus: resp.StatusCode}, fill{})
}

// invalidateFor removes the target URI of an unsafe request and the
// same-origin URIs its response's Location and Content-Location name
// (RFC 9111 §4.4).
func (h *Handler) invalidateFor(r *http.Request, resp http.Header) {
	ctx := context.WithoutCancel(r.Context())
	target := *r.URL
	target.Scheme, target.Host = "http", strings.ToLower(r.Host)
	if r.TLS != nil {
		target.Scheme = "https"
	}
	keys := []string{primaryKey(r)}
	for _, u := range httpcache.InvalidatedURIs(&target, resp) {
		keys = append(keys, keyOfURL(u))
	}
	for _, k := range keys {
		if _, err := h.invalidate(ctx, k); err != nil {
			// Grouped: with Redis down, every unsafe request fails here.
			h.warnings.warn("store delete failed", "invalidation", "cache_key", k, "error", err.Error())
		}
	}
}

// ensureDate adds a Date field to a response that lacks one, as a recipient
// with a clock must before caching or forwarding it (RFC 9110 §6.6.1).
func ensureDate(h http.Header, now time.Time) {
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{httpcache.FormatDate(now)}
	}
}

// drain reads what is left of a small body so the connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10) // best effort: the connection is only reused if this succeeds
	body.Close()
}

// clientBody is a client's request body on its way to the origin. It
// keeps the first error reading it (a body that stops arriving, malformed
// chunked framing), which is the client's fault, not the origin's.
type clientBody struct {
	io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}
