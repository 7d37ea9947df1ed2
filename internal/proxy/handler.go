package proxy

import (
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/origin"
	"github.com/hoard-cache/hoard/internal/store"
)

// Handler is the caching reverse proxy. It is safe for concurrent use.
type Handler struct {
	opts Options
	// origin carries requests to the origin (Options.Transport, when set,
	// inside it).
	origin    *origin.Client
	policy    httpcache.Policy
	via       string
	viaField  []string // {via}, shared by responses that had no Via
	hitFields *hitStatusFields
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
	warnings   *groupedWarnings
}

// New returns a Handler configured by opts.
func New(opts Options) (*Handler, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	oc, err := origin.New(origin.Options{
		URL:                   opts.Origin,
		Transport:             opts.Transport,
		ConnectTimeout:        opts.ConnectTimeout,
		IdleConnTimeout:       opts.IdleConnTimeout,
		ResponseHeaderTimeout: opts.OriginTimeout,
		MaxConns:              opts.MaxOriginConns,
		MaxBackoff:            opts.MaxBackoff,
		Clock:                 opts.Clock,
		Logger:                opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	h := &Handler{
		opts:     opts,
		origin:   oc,
		policy:   httpcache.Policy{HeuristicMax: opts.HeuristicMax},
		via:      "1.1 " + opts.Name,
		viaField: []string{"1.1 " + opts.Name},
		seed:     maphash.MakeSeed(),
		id:       handlerIDs.Add(1),

		flights:     map[string]*flight{},
		uncacheable: map[string]time.Time{},
		warnings:    newGroupedWarnings(opts.Logger, warnEvery),
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

// ServeHTTP answers one client request: GET and HEAD without a body go
// through the cache (exchange.go); with one, they bypass it; every other
// method is forwarded and may invalidate (RFC 9111 §4.4).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.observing() {
		t := startTally(w)
		defer h.observe(t, r) // after recoverPanic's answer
		w = t
	}
	defer h.recoverPanic(w, r)
	if _, ok := r.Header["Connection"]; ok {
		r = withoutConnectionFields(r)
	}
	if h.refuse(w, r) {
		return
	}
	r, answered := h.countHop(w, r)
	if answered {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveCacheable(w, r, true)
	case "PURGE":
		h.servePurge(w, r)
	default:
		h.serveForwarded(w, r)
	}
}

// refuse answers a request Hoard serves for no resource, and reports
// whether it did.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodConnect {
		// A tunnel is no resource of the origin's: 501, the answer to a
		// method the server supports for no resource (RFC 9110 §15.6.2).
		h.writeError(w, http.StatusNotImplemented, "Hoard is a reverse proxy and opens no CONNECT tunnels",
			httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonBadRequest})
		return true
	}
	if why := badTarget(r); why != "" {
		h.writeError(w, http.StatusBadRequest, why,
			httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: reasonBadRequest})
		return true
	}
	return false
}

// countHop applies an OPTIONS or TRACE request's Max-Forwards (RFC 9110
// §7.6.2): at 0 it answers the request itself and reports answered; above,
// it returns the request with one hop less.
func (h *Handler) countHop(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if r.Method != http.MethodOptions && r.Method != http.MethodTrace {
		return r, false
	}
	n, ok := maxForwards(r.Header)
	if !ok {
		return r, false
	}
	if n == 0 {
		h.answerAsFinalRecipient(w, r)
		return r, true
	}
	r = withOwnHeader(r)
	r.Header.Set("Max-Forwards", strconv.FormatInt(n-1, 10))
	return r, false
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
	cs := httpcache.CacheStatus{Fwd: httpcache.FwdMethod, Detail: reasonMaxForwards}
	hdr.Set("Cache-Status", cs.String(h.opts.Name))
	noteStatus(w, cs, false)
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
		return "The request target * is for OPTIONS only"
	case r.URL.Opaque != "" || strings.Contains(r.RequestURI, "#"):
		return "The request target is not a valid one"
	case r.URL.Scheme != "" && r.URL.Host == "":
		return "An absolute request target needs a host"
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
	h.writeError(w, http.StatusInternalServerError, "Hoard failed while serving this request",
		httpcache.CacheStatus{Fwd: httpcache.FwdMiss, Detail: "internal-error"})
}

// Close waits for background revalidations and fills to end, then closes the
// connections to the origin (origin.Client.Close): the idle ones at once,
// the others as their exchanges end. The handler must not serve requests
// after Close.
func (h *Handler) Close() error {
	h.background.Wait()
	h.origin.Close()
	h.warnings.close()
	return nil
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
