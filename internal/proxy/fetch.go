package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
// f, when not nil, is the flight this request leads: the outcome is
// published to the requests that wait on it.
func (h *Handler) fetch(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives, primary string, found lookupResult, f *flight) {
	defer found.close()
	out := h.outbound(context.WithoutCancel(r.Context()), r)
	out.Method = http.MethodGet
	out.Header.Del("If-None-Match")
	out.Header.Del("If-Modified-Since")
	// A range request fetches the whole object, so that later ranges hit;
	// the ranges are cut from it on the way to the client.
	out.Header.Del("Range")
	out.Header.Del("If-Range")

	var candidates []*cached
	if found.ok {
		// A copy (the body is the same reader): a pointer to found.hit
		// would put all of found on the heap, for every fetch.
		hit := found.hit
		candidates = append(candidates, &hit)
	}
	candidates = append(candidates, found.siblings...)
	if len(candidates) > 0 {
		// If-Modified-Since only for the response this request selects;
		// other variants offer only their entity tags (RFC 9111 §4.3.1),
		// since a date cannot tell variants apart.
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
	}

	requestTime := h.opts.Clock()
	// A purge or an unsafe request from now on outdates what this fetch
	// brings back, even one that arrives before the response's header.
	t := h.pending.begin(primary)
	held := hold{t: t}
	defer held.release()
	resp, cancel, err := h.roundTripTo(w, out)
	if err != nil {
		if h.serveStaleOnError(w, r, reqCC, found, 0, f) {
			return
		}
		if f != nil {
			f.fail(err)
		}
		h.failOrigin(w, r, err, found.fwd, found.ok && httpcache.StaleForbidden(*found.hit.cc))
		return
	}
	held.cancel, held.origin = cancel, resp.Body
	responseTime := h.opts.Clock()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, responseTime)

	if r.Header.Get("Range") != "" && resp.StatusCode == http.StatusOK && resp.ContentLength > h.opts.MaxObjectSize {
		// Too large to store: let the origin answer the range itself.
		resp.Body.Close()
		h.passThrough(w, r, found.fwd, httpcache.ReasonTooLarge, f)
		return
	}
	if httpcache.ErrorStatus(resp.StatusCode) && h.serveStaleOnError(w, r, reqCC, found, resp.StatusCode, f) {
		drain(resp.Body)
		return
	}
	if resp.StatusCode == http.StatusNotModified &&
		out.Header["If-None-Match"] == nil && out.Header["If-Modified-Since"] == nil {
		// A 304 answers a conditional request only (RFC 9110 §15.4.5), and
		// this one had no conditions: the client's were taken off, and no
		// stored response offered a validator. Passed on, it would tell
		// the client its own copy is current, which nobody checked.
		drain(resp.Body)
		err := &originError{err: &invalidResponse{errors.New("304 Not Modified to a request without conditions")}}
		if f != nil {
			f.fail(err)
		}
		h.failOrigin(w, r, err, found.fwd, false)
		return
	}
	if resp.StatusCode == http.StatusNotModified {
		drain(resp.Body)
		if h.refresh(w, r, reqCC, primary, &found, candidates, resp, requestTime, responseTime, &held, f) {
			return
		}
		// The 304 names none of the stored responses (RFC 9111 §4.3.4):
		// ask again without conditions.
		found.close()
		h.fetch(w, r, reqCC, primary, lookupResult{fwd: found.fwd, reason: found.reason}, f)
		return
	}
	h.storeAndServe(w, r, reqCC, primary, resp, requestTime, responseTime, &held,
		httpcache.CacheStatus{Fwd: found.fwd, FwdStatus: resp.StatusCode}, f)
}

// passThrough forwards a request as it is and streams the answer without
// storing it.
func (h *Handler) passThrough(w http.ResponseWriter, r *http.Request, fwd httpcache.Forward, why httpcache.Reason, f *flight) {
	resp, cancel, err := h.roundTrip(h.outbound(r.Context(), r))
	if err != nil {
		if f != nil {
			f.fail(err)
		}
		h.failOrigin(w, r, err, fwd, false)
		return
	}
	defer cancel()
	defer resp.Body.Close()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, h.opts.Clock())
	h.stream(w, r, response{status: resp.StatusCode, header: resp.Header, body: resp.Body, length: resp.ContentLength},
		httpcache.CacheStatus{Fwd: fwd, FwdStatus: resp.StatusCode, Detail: why}, fill{f: f})
}

// serveStaleOnError serves the stale stored response when the origin failed
// (status 0) or answered with a 5xx error and stale-if-error allows it
// (RFC 5861 §4). It reports whether it did.
func (h *Handler) serveStaleOnError(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives,
	found lookupResult, status int, f *flight) bool {
	c := &found.hit
	if !found.ok || c.body == nil {
		return false
	}
	d := httpcache.Evaluate(r.Header, reqCC, c.stored(), h.opts.Clock(), h.policy)
	if !d.Stale || !httpcache.StaleIfError(*c.cc, reqCC, -d.TTL(), h.opts.StaleIfError) {
		return false
	}
	h.opts.Logger.Warn("serving stale: origin failed", "path", r.URL.Path, "status", status)
	// Not "hit": the request was forwarded (RFC 9211 §2.1); the detail
	// says the stored response was served.
	cs := httpcache.CacheStatus{Fwd: httpcache.FwdStale, FwdStatus: status, TTL: d.TTL(), TTLKnown: true,
		Detail: reasonStaleIfError}
	if f != nil {
		// Followers serve their own stale response (or fail) rather than
		// wait for the failing origin again.
		f.errStatus = status
		f.fail(fmt.Errorf("origin failed (status %d)", status))
	}
	h.serveStored(w, r, c, d, cs)
	return true
}

// refresh handles a 304 Not Modified to a validation (RFC 9111 §4.3.4): the
// stored response it selects gets the 304's header fields (§3.2), is stored
// again under this request's key and served. It reports false when the 304
// selects no stored response. The stored body it serves goes with held,
// which may outlive the request (fill.go).
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives, primary string,
	found *lookupResult, candidates []*cached, resp *http.Response, requestTime, responseTime time.Time, held *hold,
	f *flight) bool {
	headers := make([]http.Header, len(candidates))
	for i, c := range candidates {
		headers[i] = c.entry.Header
	}
	i := httpcache.SelectFor304(resp.Header, headers)
	if !found.ok && resp.Header.Get("ETag") == "" {
		// Only an entity tag says which other variant a 304 names.
		i = -1
	}
	if i < 0 {
		return false
	}
	c := candidates[i]
	body := c.body
	if body == nil {
		e, b, ok := h.storeGet(r.Context(), c.key)
		if !ok {
			return false
		}
		if !sameStored(e, c.entry) {
			// Replaced since the lookup read it: the 304 names the
			// response the lookup saw, whose body is gone.
			b.Close()
			return false
		}
		body = b
	} else {
		// The selected response's, open since the lookup: found no
		// longer closes it.
		found.hit.body = nil
	}
	held.stored = body
	status := c.entry.Status
	stored := httpcache.UpdateStoredHeader(c.entry.Header, resp.Header)
	cc := httpcache.ParseResponseCacheControl(stored)
	lifetime := httpcache.FreshnessLifetime(stored, cc, status, responseTime, h.opts.HeuristicMax)

	cs := httpcache.CacheStatus{Fwd: found.fwd, FwdStatus: http.StatusNotModified}
	var bw store.BodyWriter
	var after func()
	if ok, why := httpcache.Storable(httpcache.Exchange{
		Method: http.MethodGet, ReqHeader: r.Header, ReqCC: reqCC,
		Status: status, RespHeader: stored, RespCC: cc,
	}); ok {
		bw, after = h.beginStore(r, primary, status, stored, cc, lifetime, requestTime, responseTime, held.t, c.entry.Size)
	} else {
		cs.Detail = why
		// The 304 made the stored response one that must not be stored:
		// it goes. When only this request refuses it (its no-store, its
		// Authorization), the stored response is left as it was: a
		// request's no-store does not apply to what is already stored
		// (RFC 9111 §5.2.1.5), and no client may evict an entry just by
		// asking so.
		if ok, _ := httpcache.Storable(httpcache.Exchange{
			Method: http.MethodGet, Status: status, RespHeader: stored, RespCC: cc,
		}); !ok {
			h.invalidate(context.WithoutCancel(r.Context()), primary)
		}
	}
	cs.Stored = bw != nil
	age := httpcache.CurrentAge(stored, requestTime, responseTime, h.opts.Clock())
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
	h.stream(w, r, response{status: status, header: client, body: body, length: c.entry.Size, shared: header,
		received: responseTime, conditions: byCache}, cs, fill{bw: bw, after: after, f: f, own: held.pass()})
	return true
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

// beginStore starts storing a response under the request's key (the
// primary key, or a variant key when the response has Vary): it builds the
// entry from the stored header and the exchange's times and opens the
// store's writer. It returns nil when the store refuses, and what to do once
// the entry is committed. t is the fetch's ticket: the entry is not
// committed if the key was invalidated since the request went out.
func (h *Handler) beginStore(r *http.Request, primary string, status int, stored http.Header,
	cc httpcache.Directives, lifetime httpcache.Lifetime, requestTime, responseTime time.Time, t *ticket,
	size int64) (store.BodyWriter, func()) {
	names := httpcache.VaryNames(stored)
	key := primary
	if len(names) > 0 {
		key = variantKey(primary, names, r.Header)
	}
	e := store.Entry{
		Status:        status,
		Header:        stored,
		RequestTime:   requestTime,
		ResponseTime:  responseTime,
		RequestHeader: httpcache.VaryRequestHeader(names, r.Header),
		Tags:          responseTags(stored),
		Expires:       h.expiresHint(responseTime, lifetime, cc, stored),
		Size:          max(size, 0), // a hint for the store's buffer
	}
	e.Note = h.storedNote(e, size)
	bw := h.put(r.Context(), key, e)
	if bw == nil {
		return nil, nil
	}
	return &guardedWriter{BodyWriter: bw, t: t, h: h, ctx: r.Context(), key: key}, h.afterStore(r, primary, key, e, t)
}

// guardedWriter commits only if its key was not invalidated since its
// fetch began: a purge (or an unsafe request) that arrives while the
// response is still on its way wins over it.
type guardedWriter struct {
	store.BodyWriter
	t   *ticket
	h   *Handler        // with ctx and key, to delete what Commit stored
	ctx context.Context // the request's
	key string
}

// errInvalidated is what Commit reports when the key was invalidated
// during the write.
var errInvalidated = errors.New("invalidated while it was being stored")

func (w *guardedWriter) Commit() error {
	if w.t.outdated() {
		w.BodyWriter.Abort()
		return errInvalidated
	}
	if err := w.BodyWriter.Commit(); err != nil {
		return err
	}
	if w.t.outdated() {
		// The invalidation came between the look above and the commit,
		// and may have deleted before this stored: delete again.
		w.h.storeDelete(context.WithoutCancel(w.ctx), w.key)
		return errInvalidated
	}
	return nil
}

// storeAndServe sends an origin response to the client, storing it on the
// way when RFC 9111 §3 allows and it is worth keeping.
func (h *Handler) storeAndServe(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives, primary string,
	resp *http.Response, requestTime, responseTime time.Time, held *hold, cs httpcache.CacheStatus, f *flight) {
	respCC := httpcache.ParseResponseCacheControl(resp.Header)
	ok, why := httpcache.Storable(httpcache.Exchange{
		Method: http.MethodGet, ReqHeader: r.Header, ReqCC: reqCC,
		Status: resp.StatusCode, RespHeader: resp.Header, RespCC: respCC,
	})
	lifetime := httpcache.FreshnessLifetime(resp.Header, respCC, resp.StatusCode, responseTime, h.opts.HeuristicMax)
	switch {
	case !ok:
	case !httpcache.Reusable(resp.Header, respCC, lifetime):
		ok, why = false, httpcache.ReasonNoFreshness
	case resp.ContentLength > h.opts.MaxObjectSize:
		ok, why = false, httpcache.ReasonTooLarge
	}
	var bw store.BodyWriter
	var after func()
	var shared http.Header
	if ok {
		shared = httpcache.StoredHeader(resp.Header, respCC)
		bw, after = h.beginStore(r, primary, resp.StatusCode, shared, respCC, lifetime, requestTime, responseTime, held.t,
			resp.ContentLength)
		age := httpcache.CurrentAge(resp.Header, requestTime, responseTime, responseTime)
		cs.TTL, cs.TTLKnown = lifetime.Duration-age, true
	} else if why != httpcache.ReasonNone {
		cs.Detail = why
	}
	cs.Stored = bw != nil
	h.stream(w, r, response{status: resp.StatusCode, header: resp.Header, body: resp.Body, length: resp.ContentLength,
		shared: shared, received: responseTime, conditions: byHoardForOrigin}, cs, fill{bw: bw, after: after, f: f, own: held.pass()})
}

// put starts storing an entry, logging (not failing the request) when the
// store refuses.
func (h *Handler) put(ctx context.Context, key string, e store.Entry) store.BodyWriter {
	bw, err := h.opts.Store.Put(context.WithoutCancel(ctx), key, e)
	if err != nil {
		h.opts.Logger.Warn("store write failed", "cache_key", key, "error", err)
		return nil
	}
	return bw
}

// afterStore returns what to do once a response is committed under key:
// record a variant in its URL's index.
func (h *Handler) afterStore(r *http.Request, primary, key string, e store.Entry, t *ticket) func() {
	if key == primary {
		return nil
	}
	ctx := context.WithoutCancel(r.Context())
	return func() { h.addVariant(ctx, primary, key, e, t) }
}

// How long past its freshness a stored response is kept: an hour for
// requests that accept stale responses (max-stale, RFC 9111 §5.2.1.2), a day
// when a validator lets a 304 refresh it.
const (
	keepStale         = time.Hour
	keepForValidation = 24 * time.Hour
)

// expiresHint is when a stored response is no longer worth keeping, which
// lets stores drop it: its freshness lifetime, plus the longest of the
// staleness allowed by stale-while-revalidate and stale-if-error (RFC 5861),
// keepStale, and keepForValidation when it has a validator.
func (h *Handler) expiresHint(responseTime time.Time, lifetime httpcache.Lifetime, cc httpcache.Directives, hdr http.Header) time.Time {
	keep := max(cc.StaleWhileRevalidate.Value, cc.StaleIfError.Value, keepStale)
	if httpcache.HasValidator(hdr) {
		keep = max(keep, keepForValidation)
	}
	return responseTime.Add(lifetime.Duration + keep)
}
