package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// exchange is one GET or HEAD on its way through the cache: where its answer
// goes, the request and what the cache made of it, what the store holds for
// it, and, once it goes to the origin, the flight it leads and the times of
// the origin exchange.
//
// serveCacheable makes one on its stack and passes a pointer down the path;
// nothing keeps that pointer, so a hit allocates no exchange (check with
// go build -gcflags=-m). What outlives the request (a background
// revalidation, a fill) copies the fields it needs.
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	reqCC   httpcache.Directives // the request's Cache-Control (RFC 9111 §5.2.1)
	primary string               // the cache key (RFC 9111 §2)
	// found is what the store holds for the request (lookup). Its body is
	// closed by found.close, when the request ends (serveCacheable, fetch),
	// unless storedBody handed it on to a refresh and set it to nil.
	found lookupResult
	// f is the flight this request leads, nil when it leads none: a
	// follower's flight is not its own.
	f *flight
	// requestTime and responseTime are when the origin request went out and
	// its response came (RFC 9111 §4.2.3); zero until fetch takes them.
	requestTime, responseTime time.Time
}

// serveCacheable answers a GET or HEAD: from the store when a stored
// response may be reused, else from the origin (validating what is stored
// when there is something to validate). With coalesce, concurrent origin
// fetches for the same key are shared.
func (h *Handler) serveCacheable(w http.ResponseWriter, r *http.Request, coalesce bool) {
	x := exchange{w: w, r: r}
	if h.bypass(&x) {
		return
	}
	x.primary = primaryKey(r)
	x.found = h.lookup(r.Context(), x.primary, r.Header)
	if x.found.ok {
		// The stored body is this request's to close, unless it was handed
		// on: a 304 refresh (storedBody) gives it to the fill, which may
		// outlive the request (fill.go), and sets x.found.hit.body to nil.
		// So the close reads the field when the request ends, not now: a
		// close of the body as looked up would cut the fill's read of it
		// (TestRefreshOutlivesTheRequest).
		defer x.found.close()
		if h.answerFromStore(&x) {
			return
		}
	}
	if x.reqCC.OnlyIfCached {
		// §5.2.1.7: answer from the cache or with 504.
		x.found.close()
		h.writeError(w, http.StatusGatewayTimeout, "Nothing usable is stored, and the request accepts only a stored response",
			httpcache.CacheStatus{Fwd: x.found.fwd, Detail: reasonOnlyIfCached})
		return
	}
	h.forward(&x, coalesce)
}

// bypass parses the request's directives into x, and sends a request the
// store must not answer straight to the origin, reporting whether it did.
func (h *Handler) bypass(x *exchange) bool {
	if hasContent(x.r) {
		h.passThrough(x, httpcache.FwdBypass, httpcache.ReasonRequestBody)
		return true
	}
	x.reqCC = httpcache.ParseCacheControl(x.r.Header)
	if _, ok := x.r.Header["If-Match"]; ok || x.r.Header["If-Unmodified-Since"] != nil {
		// Preconditions Hoard does not evaluate from the cache: the origin
		// answers them, and its answer (a 412 perhaps) is not stored
		// (RFC 9111 §4.3.2). A client that allows no origin contact gets
		// the 504 of §5.2.1.7 instead.
		if x.reqCC.OnlyIfCached {
			h.writeError(x.w, http.StatusGatewayTimeout, "The request's preconditions are for the origin server to answer, and the request accepts only a stored response",
				httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonOnlyIfCached})
			return true
		}
		h.passThrough(x, httpcache.FwdBypass, reasonPrecondition)
		return true
	}
	return false
}

// answerFromStore serves the stored response a request selected when the
// reuse rules allow (RFC 9111 §4; RFC 5861 §3 for stale-while-revalidate),
// and reports whether it did. Otherwise it records in x.found why the
// request goes to the origin.
func (h *Handler) answerFromStore(x *exchange) bool {
	found := &x.found
	d := httpcache.Evaluate(x.r.Header, x.reqCC, found.hit.stored(), h.opts.Clock(), h.policy)
	switch {
	case d.Action == httpcache.Serve:
		h.serveStored(x, &found.hit, d, httpcache.CacheStatus{
			Hit: true, TTL: d.TTL(), TTLKnown: true, Detail: reasonIf(d.Reason == httpcache.ReasonMaxStale, d.Reason),
		})
		return true
	case d.Reason == httpcache.ReasonStale && !x.reqCC.MaxAge.Present && !x.reqCC.MinFresh.Present &&
		httpcache.StaleWhileRevalidate(*found.hit.cc, -d.TTL()):
		// A request's max-age or min-fresh says it does not want a stale
		// response (RFC 9111 §5.2.1.1, §5.2.1.3): it waits for the
		// validation instead.
		h.serveStored(x, &found.hit, d, httpcache.CacheStatus{
			Hit: true, TTL: d.TTL(), TTLKnown: true, Detail: reasonStaleWhileRevalidate,
		})
		h.revalidateInBackground(x)
		return true
	}
	found.fwd, found.reason = httpcache.FwdStale, d.Reason
	switch d.Reason {
	case httpcache.ReasonRequestNoCache, httpcache.ReasonRequestMaxAge, httpcache.ReasonRequestMinFresh:
		found.fwd = httpcache.FwdRequest
	}
	return false
}

func reasonIf(ok bool, r httpcache.Reason) httpcache.Reason {
	if ok {
		return r
	}
	return ""
}

// forward goes to the origin for a GET or HEAD the store did not answer:
// alone, or, with coalesce, leading or following the key's shared fetch
// (and, across a fleet, its fill lock).
func (h *Handler) forward(x *exchange, coalesce bool) {
	var f *flight
	var rd *flightReader
	var leader bool
	if coalesce {
		f, rd, leader = h.join(x.primary)
	}
	switch {
	case f == nil:
		h.fetch(x)
	case leader:
		x.f = f
		defer h.land(f)
		if !x.found.ok {
			unlock, waited := h.fleetFill(x.r.Context(), x.primary)
			if unlock != nil {
				defer unlock()
			}
			if waited && h.serveFilledByFleet(x) {
				return
			}
		}
		h.fetch(x)
	default:
		x.found.close()
		h.follow(x, rd)
	}
}

// serveFilledByFleet serves a response another process stored while this
// one waited for it, and reports whether it did. The flight's followers are
// told to look in the store themselves.
func (h *Handler) serveFilledByFleet(x *exchange) bool {
	again := h.lookup(x.r.Context(), x.primary, x.r.Header)
	if !again.ok {
		return false
	}
	d := httpcache.Evaluate(x.r.Header, x.reqCC, again.hit.stored(), h.opts.Clock(), h.policy)
	if d.Action != httpcache.Serve {
		again.close()
		return false
	}
	defer again.close()
	x.f.publish(x.r, response{status: again.hit.entry.Status, header: again.hit.entry.Header}, false, httpcache.CacheStatus{})
	x.f.finish(nil)
	h.serveStored(x, &again.hit, d, httpcache.CacheStatus{
		Hit: true, TTL: d.TTL(), TTLKnown: true, Collapsed: true,
	})
	return true
}

// revalidateInBackground refreshes a stale stored response after it was
// served under stale-while-revalidate (RFC 5861 §3). One refresh per key
// runs at a time: it leads the key's flight, so concurrent misses wait for
// it and further stale hits start none. The refresh is an exchange of its
// own, with no client.
func (h *Handler) revalidateInBackground(x *exchange) {
	f, rd, leader := h.join(x.primary)
	if !leader {
		rd.close()
		return
	}
	// The refresh outlives the request.
	ctx := context.WithoutCancel(x.r.Context())
	bg := x.r.Clone(ctx)
	bg.Header.Del("If-None-Match")
	bg.Header.Del("If-Modified-Since")
	reqCC, primary := x.reqCC, x.primary // not x, which is the request's
	h.background.Add(1)
	go func() {
		defer h.background.Done()
		defer h.land(f)
		defer func() {
			// stream cuts a broken body with http.ErrAbortHandler, which
			// only an http.Server recovers; this goroutine has none.
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				h.opts.Logger.Error("panic in background revalidation", "cache_key", primary, "panic", fmt.Sprint(v))
			}
		}()
		rx := exchange{w: discard{header: http.Header{}}, r: bg, reqCC: reqCC, primary: primary, f: f}
		rx.found = h.lookup(ctx, primary, bg.Header)
		rx.found.fwd = httpcache.FwdStale
		h.fetch(&rx)
	}()
}

// discard is a ResponseWriter that drops the response: a background
// revalidation has no client.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}
