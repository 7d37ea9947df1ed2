// Package proxy is Hoard's caching reverse proxy: an http.Handler that
// composes the RFC 9111 rules of package httpcache with a store.Store and an
// origin reached through an http.RoundTripper.
//
// The handler owns all I/O and concurrency; every caching rule it applies is
// a function of httpcache. It must not interpret stored bytes itself beyond
// what the store.Entry carries.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// Handler is the caching reverse proxy. It is safe for concurrent use.
type Handler struct {
	opts      Options
	transport http.RoundTripper
	// ownTransport is set when transport was built here rather than given
	// in Options: Close then closes it.
	ownTransport bool
	policy       httpcache.Policy
	via          string
	viaField     []string // {via}, shared by responses that had no Via
	hitFields    *hitStatusFields
	// directives shares parsed Cache-Control values between stored
	// responses, which mostly repeat a handful of them.
	directives directiveCache
	// varies shares the names of Vary values likewise.
	varies varyCache
	// id tells this Handler's Notes (memo.go) from another's, which number
	// their directives and Vary names in other tables: two Handlers may
	// share one store.
	id uint64

	// indexLocks serialise updates of one URL's variant index, so that two
	// variants stored at once do not drop each other from the index.
	indexLocks [64]sync.Mutex
	seed       maphash.Seed
	// pending tracks the origin fetches under way, so that an
	// invalidation of their key keeps what they bring back from being
	// stored over it.
	pending pendingFetches

	flightsMu   sync.Mutex
	flights     map[string]*flight   // guarded by flightsMu: fetches under way, by primary key
	uncacheable map[string]time.Time // guarded by flightsMu: keys not coalesced until then

	background sync.WaitGroup // background revalidations and fills; Close waits for them
}

// New returns a Handler configured by opts.
func New(opts Options) (*Handler, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		opts:      opts,
		transport: opts.Transport,
		policy:    httpcache.Policy{HeuristicMax: opts.HeuristicMax},
		via:       "1.1 " + opts.Name,
		viaField:  []string{"1.1 " + opts.Name},
		seed:      maphash.MakeSeed(),
		id:        handlerIDs.Add(1),

		flights:     map[string]*flight{},
		uncacheable: map[string]time.Time{},
	}
	if h.transport == nil {
		h.transport = newTransport(opts)
		h.ownTransport = true
	}
	if opts.MaxBackoff > 0 {
		h.transport = &backoff{next: h.transport, max: opts.MaxBackoff, clock: opts.Clock, log: opts.Logger}
	}
	if w, ok := opts.Store.(store.InvalidationWatcher); ok {
		// Another process's purge outdates this one's fetches of what it
		// names, as a local purge does: what they bring back would undo it.
		w.WatchInvalidations(h.invalidatedElsewhere)
	}
	h.hitFields = new(hitStatusFields)
	for i := range h.hitFields {
		cs := httpcache.CacheStatus{Hit: true, TTL: time.Duration(i) * time.Second, TTLKnown: true}
		h.hitFields[i] = []string{cs.String(opts.Name)}
	}
	return h, nil
}

// newTransport is the origin transport used when Options.Transport is nil:
// a keep-alive pool that never rewrites bodies (no transparent gzip) and
// gives up on an origin that does not answer within OriginTimeout. For a
// plain-http origin, the requests without a body (every fetch of the
// cache's) travel on an originClient, and the others on the
// *http.Transport.
func newTransport(opts Options) http.RoundTripper {
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                  nil, // the origin is reached directly, whatever the environment says
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		MaxConnsPerHost:        opts.MaxOriginConns,
		IdleConnTimeout:        opts.IdleConnTimeout,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  opts.OriginTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxOriginHeaderBytes,
	}
	if opts.Origin.Scheme != "http" {
		return t
	}
	addr := opts.Origin.Host
	if opts.Origin.Port() == "" {
		addr = net.JoinHostPort(opts.Origin.Hostname(), "80")
	}
	c := newOriginClient(addr, opts.Origin.Host, opts, t)
	if c.slots != nil {
		// One bound for both pools: the transport's connections take
		// their slots from the client's, and are not kept idle, where
		// they would hold slots the client's requests wait for.
		t.MaxConnsPerHost = 0
		t.DialContext = c.dialSlotted
		t.DisableKeepAlives = true
	}
	return c
}

// ServeHTTP answers one client request: GET and HEAD without a body go
// through the cache; with one, they bypass it; every other method is
// forwarded and may invalidate (RFC 9111 §4.4).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer h.recoverPanic(w, r)
	if _, ok := r.Header["Connection"]; ok {
		r = withoutConnectionFields(r)
	}
	if r.Method == http.MethodConnect {
		// A tunnel is no resource of the origin's: 501, the answer to a
		// method the server supports for no resource (RFC 9110 §15.6.2).
		h.writeError(w, http.StatusNotImplemented, "CONNECT is not supported by this reverse proxy",
			httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonBadRequest})
		return
	}
	if why := badTarget(r); why != "" {
		h.writeError(w, http.StatusBadRequest, why,
			httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonBadRequest})
		return
	}
	if r.Method == http.MethodOptions || r.Method == http.MethodTrace {
		if n, ok := maxForwards(r.Header); ok {
			if n == 0 {
				h.answerAsFinalRecipient(w, r)
				return
			}
			r = withOwnHeader(r)
			r.Header.Set("Max-Forwards", strconv.FormatInt(n-1, 10))
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if hasContent(r) {
			h.passThrough(w, r, httpcache.FwdBypass, httpcache.ReasonRequestBody, nil)
			return
		}
		h.serveCacheable(w, r, true)
		return
	case "PURGE":
		h.servePurge(w, r)
		return
	}
	h.serveForwarded(w, r)
}

// hasContent reports whether a request carries a body: a Content-Length
// above 0, or chunked framing, whose length net/http gives as -1 (RFC 9112
// §6.3). A GET or HEAD with content (a "fat GET") is forwarded with it and
// bypasses the store: content received in a GET has no generally defined
// semantics (RFC 9110 §9.3.1, §9.3.2), yet an origin may answer according
// to it, and the cache key does not hold it. Stored, that answer would be
// served to every clean request for the URL; answered from the store, the
// request would lose what its sender meant by the content.
func hasContent(r *http.Request) bool { return r.ContentLength != 0 }

// maxForwards returns the value of a request's Max-Forwards field (RFC
// 9110 §7.6.2), and false when it has none or none that is a number.
func maxForwards(h http.Header) (int64, bool) {
	vs := h["Max-Forwards"]
	if len(vs) != 1 || vs[0] == "" || strings.Trim(vs[0], "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil {
		return math.MaxInt64, true // more digits than int64 holds: very many hops
	}
	return n, true
}

// answerAsFinalRecipient answers an OPTIONS or TRACE that may be forwarded
// no further (Max-Forwards: 0, RFC 9110 §7.6.2) as its final recipient:
// OPTIONS with the methods Hoard handles (§9.3.7), TRACE with the request
// it received as message/http, without the fields that carry credentials
// (§9.3.8).
func (h *Handler) answerAsFinalRecipient(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cache-Status", httpcache.CacheStatus{Fwd: httpcache.FwdMethod, Detail: reasonMaxForwards}.String(h.opts.Name))
	if r.Method == http.MethodOptions {
		hdr.Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE")
		hdr.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\nHost: %s\r\n", r.Method, r.RequestURI, r.Proto, r.Host)
	echo := r.Header.Clone()
	for _, name := range [...]string{"Authorization", "Proxy-Authorization", "Cookie"} {
		delete(echo, name)
	}
	echo.Write(&b)
	b.WriteString("\r\n")
	hdr.Set("Content-Type", "message/http")
	hdr.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, b.String())
}

// badTarget says what is wrong with a request target net/http accepted but
// HTTP does not, or returns "" for a good one: the asterisk form is for
// OPTIONS only (RFC 9112 §3.2.4), a target has no fragment (§3.2), and an
// absolute http URI needs a host (RFC 9110 §4.2.1) and a path that is not
// opaque.
func badTarget(r *http.Request) string {
	switch {
	case r.RequestURI == "*" && r.Method != http.MethodOptions:
		return "the request target * is for OPTIONS only"
	case r.URL.Opaque != "" || strings.Contains(r.RequestURI, "#"):
		return "invalid request target"
	case r.URL.Scheme != "" && r.URL.Host == "":
		return "an absolute request target needs a host"
	}
	return ""
}

// withoutConnectionFields returns r without the fields its Connection
// field nominates. They describe the client's connection to Hoard, not the
// request (RFC 9110 §7.6.1): they are not forwarded, so they must not
// select a stored variant either. Were they kept for Vary, a client sending
// "Accept-Language: fr" and "Connection: Accept-Language" would have the
// origin's answer to a request without the field stored as the French
// variant.
func withoutConnectionFields(r *http.Request) *http.Request {
	names := httpcache.ConnectionFields(r.Header)
	if len(names) == 0 {
		return r
	}
	r = withOwnHeader(r)
	for _, name := range names {
		delete(r.Header, name)
	}
	return r
}

// withOwnHeader returns a shallow copy of r with a copy of its header, to
// change: the server's request is left as it was.
func withOwnHeader(r *http.Request) *http.Request {
	r = r.WithContext(r.Context())
	r.Header = r.Header.Clone()
	return r
}

// recoverPanic turns a panic in the handler into a 500 (when nothing has
// been sent yet) and a log line, so that no Go panic text reaches a client.
// http.ErrAbortHandler is re-raised: it is how a broken stream is cut.
func (h *Handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	h.opts.Logger.Error("panic while serving", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
	h.writeError(w, http.StatusInternalServerError, "internal error",
		httpcache.CacheStatus{Fwd: httpcache.FwdMiss, Detail: "internal-error"})
}

// serveCacheable answers a GET or HEAD: from the store when a stored
// response may be reused, else from the origin (validating what is stored
// when there is something to validate). With coalesce, concurrent origin
// fetches for the same key are shared.
func (h *Handler) serveCacheable(w http.ResponseWriter, r *http.Request, coalesce bool) {
	reqCC := httpcache.ParseCacheControl(r.Header)
	if _, ok := r.Header["If-Match"]; ok || r.Header["If-Unmodified-Since"] != nil {
		// Preconditions Hoard does not evaluate from the cache: the origin
		// answers them, and its answer (a 412 perhaps) is not stored
		// (RFC 9111 §4.3.2). A client that allows no origin contact gets
		// the 504 of §5.2.1.7 instead.
		if reqCC.OnlyIfCached {
			h.writeError(w, http.StatusGatewayTimeout, "only-if-cached: preconditions are answered by the origin",
				httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonOnlyIfCached})
			return
		}
		h.passThrough(w, r, httpcache.FwdBypass, reasonPrecondition, nil)
		return
	}
	primary := primaryKey(r)
	found := h.lookup(r.Context(), primary, r.Header)
	if found.ok {
		defer found.hit.body.Close()
		if h.answerFromStore(w, r, reqCC, primary, &found) {
			return
		}
	}
	if reqCC.OnlyIfCached {
		// §5.2.1.7: answer from the cache or with 504.
		found.close()
		h.writeError(w, http.StatusGatewayTimeout, "only-if-cached: no usable stored response",
			httpcache.CacheStatus{Fwd: found.fwd, Detail: reasonOnlyIfCached})
		return
	}
	h.forward(w, r, reqCC, primary, found, coalesce)
}

// answerFromStore serves the stored response a request selected when the
// reuse rules allow (RFC 9111 §4; RFC 5861 §3 for stale-while-revalidate),
// and reports whether it did. Otherwise it records in found why the request
// goes to the origin.
func (h *Handler) answerFromStore(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives, primary string,
	found *lookupResult) bool {
	d := httpcache.Evaluate(r.Header, reqCC, found.hit.stored(), h.opts.Clock(), h.policy)
	switch {
	case d.Action == httpcache.Serve:
		h.serveStored(w, r, &found.hit, d, httpcache.CacheStatus{
			Hit: true, TTL: d.TTL(), TTLKnown: true, Detail: reasonIf(d.Reason == httpcache.ReasonMaxStale, d.Reason),
		})
		return true
	case d.Reason == httpcache.ReasonStale && !reqCC.MaxAge.Present && !reqCC.MinFresh.Present &&
		httpcache.StaleWhileRevalidate(*found.hit.cc, -d.TTL()):
		// A request's max-age or min-fresh says it does not want a stale
		// response (RFC 9111 §5.2.1.1, §5.2.1.3): it waits for the
		// validation instead.
		h.serveStored(w, r, &found.hit, d, httpcache.CacheStatus{
			Hit: true, TTL: d.TTL(), TTLKnown: true, Detail: reasonStaleWhileRevalidate,
		})
		h.revalidateInBackground(r, reqCC, primary)
		return true
	}
	found.fwd, found.reason = httpcache.FwdStale, d.Reason
	switch d.Reason {
	case httpcache.ReasonRequestNoCache, httpcache.ReasonRequestMaxAge, httpcache.ReasonRequestMinFresh:
		found.fwd = httpcache.FwdRequest
	}
	return false
}

// forward goes to the origin for a GET or HEAD the store did not answer:
// alone, or, with coalesce, leading or following the key's shared fetch
// (and, across a fleet, its fill lock).
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives, primary string,
	found lookupResult, coalesce bool) {
	var f *flight
	var rd *flightReader
	var leader bool
	if coalesce {
		f, rd, leader = h.join(primary)
	}
	switch {
	case f == nil:
		h.fetch(w, r, reqCC, primary, found, nil)
	case leader:
		defer h.land(f)
		if !found.ok {
			unlock, waited := h.fleetFill(r.Context(), primary)
			if unlock != nil {
				defer unlock()
			}
			if waited && h.serveFilledByFleet(w, r, reqCC, primary, f) {
				return
			}
		}
		h.fetch(w, r, reqCC, primary, found, f)
	default:
		found.close()
		h.follow(w, r, rd, found.fwd)
	}
}

// serveFilledByFleet serves a response another process stored while this
// one waited for it, and reports whether it did. The flight's followers are
// told to look in the store themselves.
func (h *Handler) serveFilledByFleet(w http.ResponseWriter, r *http.Request, reqCC httpcache.Directives,
	primary string, f *flight) bool {
	again := h.lookup(r.Context(), primary, r.Header)
	if !again.ok {
		return false
	}
	d := httpcache.Evaluate(r.Header, reqCC, again.hit.stored(), h.opts.Clock(), h.policy)
	if d.Action != httpcache.Serve {
		again.close()
		return false
	}
	defer again.close()
	f.publish(r, response{status: again.hit.entry.Status, header: again.hit.entry.Header}, false, httpcache.CacheStatus{})
	f.finish(nil)
	h.serveStored(w, r, &again.hit, d, httpcache.CacheStatus{
		Hit: true, TTL: d.TTL(), TTLKnown: true, Collapsed: true,
	})
	return true
}

func reasonIf(ok bool, r httpcache.Reason) httpcache.Reason {
	if ok {
		return r
	}
	return ""
}

// revalidateInBackground refreshes a stale stored response after it was
// served under stale-while-revalidate (RFC 5861 §3). One refresh per key
// runs at a time: it leads the key's flight, so concurrent misses wait for
// it and further stale hits start none.
func (h *Handler) revalidateInBackground(r *http.Request, reqCC httpcache.Directives, primary string) {
	f, rd, leader := h.join(primary)
	if !leader {
		rd.close()
		return
	}
	// The refresh outlives the request.
	ctx := context.WithoutCancel(r.Context())
	bg := r.Clone(ctx)
	bg.Header.Del("If-None-Match")
	bg.Header.Del("If-Modified-Since")
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
		found := h.lookup(ctx, primary, bg.Header)
		found.fwd = httpcache.FwdStale
		h.fetch(discard{header: http.Header{}}, bg, reqCC, primary, found, f)
	}()
}

// Close waits for background revalidations and fills to end, then closes the
// connections to the origin of a transport it built: the idle ones at
// once, the others as their exchanges end. The handler must not serve
// requests after Close.
func (h *Handler) Close() error {
	h.background.Wait()
	if h.ownTransport {
		if c, ok := h.transport.(interface{ Close() }); ok {
			c.Close()
		} else {
			closeIdleConns(h.transport)
		}
	}
	return nil
}

// discard is a ResponseWriter that drops the response: a background
// revalidation has no client.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

// storeGet reads one key, treating a corrupt entry as absent (and deleting
// it) and other store errors as a miss that is logged.
func (h *Handler) storeGet(ctx context.Context, key string) (store.Entry, io.ReadCloser, bool) {
	e, body, err := h.opts.Store.Get(ctx, key)
	switch {
	case err == nil:
		return e, body, true
	case errors.Is(err, store.ErrNotFound):
	case errors.Is(err, store.ErrCorrupt):
		h.opts.Logger.Warn("dropping corrupt stored entry", "cache_key", key, "error", err)
		if err := h.opts.Store.Delete(ctx, key); err != nil {
			h.opts.Logger.Warn("store delete failed", "cache_key", key, "error", err)
		}
	default:
		h.opts.Logger.Warn("store read failed; treating as a miss", "cache_key", key, "error", err)
	}
	return store.Entry{}, nil, false
}

func (h *Handler) indexLock(primary string) *sync.Mutex {
	return &h.indexLocks[h.shard(primary)]
}

func (h *Handler) shard(primary string) uint64 {
	return maphash.String(h.seed, primary) % uint64(len(h.indexLocks))
}

// invalidatedElsewhere outdates the fetches under way of what another
// process invalidated.
func (h *Handler) invalidatedElsewhere(inv store.Invalidation) {
	for _, k := range inv.Keys {
		h.pending.invalidate(k)
	}
	if len(inv.Prefixes) > 0 || len(inv.Tags) > 0 {
		h.invalidatedAll()
	}
}

// invalidatedAll outdates every fetch under way: a purge by prefix or tag
// can concern any key.
func (h *Handler) invalidatedAll() { h.pending.invalidateAll() }
