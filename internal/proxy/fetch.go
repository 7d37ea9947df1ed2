package proxy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// fetch goes to the origin for a GET or HEAD that the store could not
// answer: a plain miss, or a validation of what is stored (RFC 9111 §4.3).
//
// The origin always receives a GET, so that the answer can be stored; a
// HEAD client is sent the header only. The client's own conditional fields
// are replaced by the cache's validators, and the client's conditions are
// then evaluated on the result (RFC 9110 §13.2). The exchange outlives the
// client: a client that hangs up does not cut a body being stored.
//
// When x leads a flight, the outcome is published to the requests that
// wait on it.
func (h *Handler) fetch(x *exchange) {
	defer x.found.close()
	out := h.validationRequest(x)
	x.requestTime = h.opts.Clock()
	// A purge or an unsafe request from now on outdates what this fetch
	// brings back, even one that arrives before the response's header.
	held := hold{t: h.pending.begin(x.primary)}
	defer held.release()
	resp, cancel, err := h.roundTripTo(x.w, out)
	if err != nil {
		if !h.serveStaleOnError(x, 0) {
			h.fail(x, err, x.found.fwd, x.found.ok && httpcache.StaleForbidden(*x.found.hit.cc))
		}
		return
	}
	held.cancel, held.origin = cancel, resp.Body
	x.responseTime = h.opts.Clock()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, x.responseTime)

	switch {
	case x.r.Header.Get("Range") != "" && resp.StatusCode == http.StatusOK && resp.ContentLength > h.opts.MaxObjectSize:
		// Too large to store: let the origin answer the range itself.
		resp.Body.Close()
		h.passThrough(x, x.found.fwd, httpcache.ReasonTooLarge)
	case httpcache.ErrorStatus(resp.StatusCode) && h.serveStaleOnError(x, resp.StatusCode):
		drain(resp.Body)
	case resp.StatusCode == http.StatusNotModified:
		drain(resp.Body)
		h.notModified(x, out, resp, &held)
	default:
		h.storeAndServe(x, resp, &held)
	}
}

// validationRequest builds the request fetch sends: a GET for the whole
// object, with the validators of what is stored in place of the client's
// conditions (RFC 9111 §4.3.1).
func (h *Handler) validationRequest(x *exchange) *http.Request {
	out := h.outbound(context.WithoutCancel(x.r.Context()), x.r)
	out.Method = http.MethodGet
	out.Header.Del("If-None-Match")
	out.Header.Del("If-Modified-Since")
	// A range request fetches the whole object, so that later ranges hit;
	// the ranges are cut from it on the way to the client.
	out.Header.Del("Range")
	out.Header.Del("If-Range")

	found := &x.found
	if !found.ok && len(found.siblings) == 0 {
		return out
	}
	// If-Modified-Since only for the response this request selects; other
	// variants offer only their entity tags (RFC 9111 §4.3.1), since a
	// date cannot tell variants apart.
	var selected http.Header
	if found.ok {
		selected = found.hit.entry.Header
	}
	others := make([]http.Header, 0, len(found.siblings))
	for _, c := range found.siblings {
		others = append(others, c.entry.Header)
	}
	inm, ims := httpcache.ConditionalHeaders(selected, others...)
	if inm != "" {
		out.Header.Set("If-None-Match", inm)
	}
	if ims != "" {
		out.Header.Set("If-Modified-Since", ims)
	}
	return out
}

// fail answers a request whose origin exchange failed (failOrigin), after
// telling the followers of the flight it leads.
func (h *Handler) fail(x *exchange, err error, fwd httpcache.Forward, mustRevalidate bool) {
	if x.f != nil {
		x.f.fail(err)
	}
	h.failOrigin(x.w, x.r, err, fwd, mustRevalidate)
}

// passThrough forwards a request as it is and streams the answer without
// storing it.
func (h *Handler) passThrough(x *exchange, fwd httpcache.Forward, why httpcache.Reason) {
	resp, cancel, err := h.exchangeWithOrigin(x.w, false, h.outbound(x.r.Context(), x.r))
	if err != nil {
		h.fail(x, err, fwd, false)
		return
	}
	defer cancel()
	defer resp.Body.Close()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, h.opts.Clock())
	h.stream(x.w, x.r, response{status: resp.StatusCode, header: resp.Header, body: resp.Body, length: resp.ContentLength},
		httpcache.CacheStatus{Fwd: fwd, FwdStatus: resp.StatusCode, Detail: why}, fill{f: x.f})
}

// serveStaleOnError serves the stale stored response when the origin failed
// (status 0) or answered with a 5xx error and stale-if-error allows it
// (RFC 5861 §4). It reports whether it did.
func (h *Handler) serveStaleOnError(x *exchange, status int) bool {
	c := &x.found.hit
	if !x.found.ok || c.body == nil {
		return false
	}
	d := httpcache.Evaluate(x.r.Header, x.reqCC, c.stored(), h.opts.Clock(), h.policy)
	if !d.Stale || !httpcache.StaleIfError(*c.cc, x.reqCC, -d.TTL(), h.opts.StaleIfError) {
		return false
	}
	h.warnings.warn("serving stale: origin failed", string(reasonStaleIfError), "path", x.r.URL.Path, "status", status)
	// Not "hit": the request was forwarded (RFC 9211 §2.1); the detail
	// says the stored response was served.
	cs := httpcache.CacheStatus{Fwd: httpcache.FwdStale, FwdStatus: status, TTL: d.TTL(), TTLKnown: true,
		Detail: reasonStaleIfError}
	if x.f != nil {
		// Followers serve their own stale response (or fail) rather than
		// wait for the failing origin again.
		x.f.errStatus = status
		x.f.fail(fmt.Errorf("origin failed (status %d)", status))
	}
	h.serveStored(x, c, d, cs)
	return true
}

// storeAndServe sends an origin response to the client, storing it on the
// way when RFC 9111 §3 allows and it is worth keeping. The body goes with
// held, which may outlive the request (fill.go).
func (h *Handler) storeAndServe(x *exchange, resp *http.Response, held *hold) {
	respCC := httpcache.ParseResponseCacheControl(resp.Header)
	lifetime := httpcache.FreshnessLifetime(resp.Header, respCC, resp.StatusCode, x.responseTime, h.opts.HeuristicMax)
	ok, why := h.storeDecision(httpcache.Exchange{
		Method: http.MethodGet, ReqHeader: x.r.Header, ReqCC: x.reqCC,
		Status: resp.StatusCode, RespHeader: resp.Header, RespCC: respCC,
	}, lifetime, resp.ContentLength)
	cs := httpcache.CacheStatus{Fwd: x.found.fwd, FwdStatus: resp.StatusCode}
	var bw store.BodyWriter
	var after func()
	var shared http.Header
	if ok {
		shared = httpcache.StoredHeader(resp.Header, respCC)
		bw, after = h.beginStore(x, storedResponse{status: resp.StatusCode, header: shared, cc: respCC,
			lifetime: lifetime, size: resp.ContentLength}, held.t)
		age := httpcache.CurrentAge(resp.Header, x.requestTime, x.responseTime, x.responseTime)
		cs.TTL, cs.TTLKnown = lifetime.Duration-age, true
	} else if why != httpcache.ReasonNone {
		cs.Detail = why
	}
	cs.Stored = bw != nil
	h.stream(x.w, x.r, response{status: resp.StatusCode, header: resp.Header, body: resp.Body, length: resp.ContentLength,
		shared: shared, received: x.responseTime, conditions: byHoardForOrigin}, cs,
		fill{bw: bw, after: after, f: x.f, own: held.pass()})
}

// storeDecision says whether the origin's response in x is stored, and if
// not why: RFC 9111 §3 must allow it, it must be reusable (a lifetime, a
// validator or a stale allowance), and its length (-1 when not known) must
// not be over MaxObjectSize. storeAndServe and Explain decide alike.
func (h *Handler) storeDecision(x httpcache.Exchange, lifetime httpcache.Lifetime, length int64) (bool, httpcache.Reason) {
	ok, why := httpcache.Storable(x)
	switch {
	case !ok:
	case !httpcache.Reusable(x.RespHeader, x.RespCC, lifetime):
		ok, why = false, httpcache.ReasonNoFreshness
	case length > h.opts.MaxObjectSize:
		ok, why = false, httpcache.ReasonTooLarge
	}
	return ok, why
}
