package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/origin"
	"github.com/hoard-cache/hoard/internal/store"
)

// notModified handles a 304 Not Modified to fetch's request out (RFC 9111
// §4.3.4): it refreshes and serves the stored response the 304 names, or,
// when it names none, asks the origin again without conditions.
func (h *Handler) notModified(x *exchange, out *http.Request, resp *http.Response, held *hold) {
	if out.Header["If-None-Match"] == nil && out.Header["If-Modified-Since"] == nil {
		// A 304 answers a conditional request only (RFC 9110 §15.4.5), and
		// this one had no conditions: the client's were taken off, and no
		// stored response offered a validator. Passed on, it would tell
		// the client its own copy is current, which nobody checked.
		err := origin.Invalid(errors.New("304 Not Modified to a request without conditions"))
		h.fail(x, err, x.found.fwd, false)
		return
	}
	if h.refresh(x, resp, held) {
		return
	}
	// The 304 names none of the stored responses (RFC 9111 §4.3.4): ask
	// again without conditions.
	x.found.close()
	x.found = lookupResult{fwd: x.found.fwd, reason: x.found.reason}
	h.fetch(x)
}

// refresh handles a 304 Not Modified to a validation (RFC 9111 §4.3.4): the
// stored response it selects gets the 304's header fields (§3.2), is stored
// again under this request's key and served. It reports false when the 304
// selects no stored response. The stored body it serves goes with held,
// which may outlive the request (fill.go).
func (h *Handler) refresh(x *exchange, resp *http.Response, held *hold) bool {
	c := x.selectedBy304(resp)
	if c == nil {
		return false
	}
	body := h.storedBody(x, c)
	if body == nil {
		return false
	}
	held.stored = body
	status := c.entry.Status
	stored := httpcache.UpdateStoredHeader(c.entry.Header, resp.Header)
	cc := httpcache.ParseResponseCacheControl(stored)
	lifetime := httpcache.FreshnessLifetime(stored, cc, status, x.responseTime, h.opts.HeuristicMax)

	cs := httpcache.CacheStatus{Fwd: x.found.fwd, FwdStatus: http.StatusNotModified}
	bw, after, why := h.storeRefreshed(x, storedResponse{status: status, header: stored, cc: cc,
		lifetime: lifetime, size: c.entry.Size}, held.t)
	cs.Detail, cs.Stored = why, bw != nil
	age := httpcache.CurrentAge(stored, x.requestTime, x.responseTime, h.opts.Clock())
	cs.TTL, cs.TTLKnown = lifetime.Duration-age, true
	header := stored.Clone()
	header.Set("Age", httpcache.FormatAge(age))
	header.Set("Content-Length", strconv.FormatInt(c.entry.Size, 10))
	client := header
	if httpcache.HasUnshared(resp.Header) {
		// The 304's Set-Cookie is this client's: it gets it, the stored
		// header and the flight's followers (shared) do not.
		client = header.Clone()
		httpcache.CopyUnshared(client, resp.Header)
	}
	h.stream(x.w, x.r, response{status: status, header: client, body: body, length: c.entry.Size, shared: header,
		received: x.responseTime, conditions: byCache}, cs, fill{bw: bw, after: after, f: x.f, own: held.pass()})
	return true
}

// selectedBy304 returns the stored response a 304 names among those whose
// validators the request offered (RFC 9111 §4.3.4), or nil.
func (x *exchange) selectedBy304(resp *http.Response) *cached {
	found := &x.found
	headers := make([]http.Header, 0, 1+len(found.siblings))
	if found.ok {
		headers = append(headers, found.hit.entry.Header)
	}
	for _, c := range found.siblings {
		headers = append(headers, c.entry.Header)
	}
	i := httpcache.SelectFor304(resp.Header, headers)
	switch {
	case i < 0:
		return nil
	case found.ok && i == 0:
		return &found.hit
	case found.ok:
		return found.siblings[i-1]
	case resp.Header.Get("ETag") == "":
		// Only an entity tag says which other variant a 304 names.
		return nil
	}
	return found.siblings[i]
}

// storedBody returns the body of c, the stored response a 304 selected, or
// nil when it is gone. Another variant's is opened now. The selected
// response's body has been open since the lookup, and is x.found's to close
// until here: it becomes the caller's (refresh hands it to held, and so to
// the fill, which may outlive the request), and x.found.hit.body is set to
// nil so that x.found.close, deferred until the request ends, leaves it
// alone. One owner, one close.
func (h *Handler) storedBody(x *exchange, c *cached) io.ReadCloser {
	if c.body != nil {
		body := c.body
		x.found.hit.body = nil
		return body
	}
	e, body, ok := h.storeGet(x.r.Context(), c.key)
	if !ok {
		return nil
	}
	if !sameStored(e, c.entry) {
		// Replaced since the lookup read it: the 304 names the response
		// the lookup saw, whose body is gone.
		body.Close()
		return nil
	}
	return body
}

// sameStored reports whether a and b, read from the store under one key,
// are the same stored response: one replaced in between has another
// response time, length or validator.
func sameStored(a, b store.Entry) bool {
	return a.Status == b.Status && a.Size == b.Size &&
		a.ResponseTime.Equal(b.ResponseTime) && a.RequestTime.Equal(b.RequestTime) &&
		a.Header.Get("ETag") == b.Header.Get("ETag") &&
		a.Header.Get("Last-Modified") == b.Header.Get("Last-Modified")
}

// storeRefreshed stores a response a 304 refreshed, under the request's
// key, when it may be stored; else it says why not, and removes what is
// stored when the response itself may no longer be.
func (h *Handler) storeRefreshed(x *exchange, s storedResponse, t *ticket) (store.BodyWriter, func(), httpcache.Reason) {
	ok, why := httpcache.Storable(httpcache.Exchange{
		Method: http.MethodGet, ReqHeader: x.r.Header, ReqCC: x.reqCC,
		Status: s.status, RespHeader: s.header, RespCC: s.cc,
	})
	if ok {
		bw, after := h.beginStore(x, s, t)
		return bw, after, ""
	}
	// The 304 made the stored response one that must not be stored: it
	// goes. When only this request refuses it (its no-store, its
	// Authorization), the stored response is left as it was: a request's
	// no-store does not apply to what is already stored (RFC 9111
	// §5.2.1.5), and no client may evict an entry just by asking so.
	if ok, _ := httpcache.Storable(httpcache.Exchange{
		Method: http.MethodGet, Status: s.status, RespHeader: s.header, RespCC: s.cc,
	}); !ok {
		h.invalidate(context.WithoutCancel(x.r.Context()), x.primary)
	}
	return nil, nil, why
}
