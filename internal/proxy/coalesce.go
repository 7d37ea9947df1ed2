package proxy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// uncacheableFor is how long a key whose response turned out not to be
// storable skips request coalescing, so that requests for it do not queue
// behind each other only to go to the origin one by one.
const uncacheableFor = 10 * time.Second

// flight is one origin fetch that concurrent requests for the same primary
// key share (collapsed forwarding). The first request leads: it fetches,
// stores and publishes the response; the others follow: they wait for the
// response header and then stream the body as it arrives (flightbody.go).
//
// Contract: ready is closed exactly once, by publish or fail; the fields
// set before it (status ... err) are read-only afterwards. The body grows
// under mu until finish.
//
// Most flights have no followers (every cold miss leads one). A small body
// that arrives whole in its first read is filled in place (fill.go) and
// kept for followers only when one joined before its first byte came: a
// follower that joins later (late) waits for the rest of it and is then
// answered from the store. Any other body is kept from the start, so that
// a follower that joins mid-way streams it rather than waits for all of
// it, and the leader's client reads it as followers do.
type flight struct {
	key   string
	ready chan struct{}

	status    int
	header    http.Header // as sent to the leader's client, without Via and Cache-Status
	length    int64
	shared    bool        // followers may use the response: it is being stored
	reqHeader http.Header // the fields of the leader's request that Vary names, to check a follower against
	cs        httpcache.CacheStatus
	received  time.Time // when the response arrived: its stored ResponseTime
	err       error     // the origin failed: no response to share
	errStatus int       // with err: the 5xx the origin answered, 0 when it gave no answer

	// filling is set, by the leader's goroutine, when a background fill
	// took the flight over: the fill, not the leader, lands it.
	filling bool

	mu        sync.Mutex
	chunks    [][]byte        // guarded by mu; the body kept, from chunk first on (flightbody.go)
	first     int             // guarded by mu; chunks dropped from the front
	size      int64           // guarded by mu; body bytes written
	readers   []*flightReader // guarded by mu; the attached readers
	window    int64           // guarded by mu; not 0 once the body is no longer stored: the most kept
	room      chan struct{}   // guarded by mu; while the fill waits for room: closed when a reader moves
	peak      int64           // guarded by mu; the most body bytes held at once
	onFull    func()          // guarded by mu; tests: called when the fill starts to wait for room
	followers int             // guarded by mu; how many joined
	keepAll   bool            // guarded by mu; the body is kept even without followers
	skipped   bool            // guarded by mu; body bytes went by unkept, for want of followers
	done      bool            // guarded by mu
	bodyErr   error           // guarded by mu
	changed   chan struct{}   // guarded by mu; closed and replaced whenever body, done, followers change
}

func newFlight(key string) *flight {
	return &flight{key: key, ready: make(chan struct{}), changed: make(chan struct{})}
}

// publish makes the response header known to followers.
func (f *flight) publish(r *http.Request, resp response, shared bool, cs httpcache.CacheStatus) {
	// A copy: followers may check it after the leader's request is done
	// with, and its header map reused for the connection's next request.
	reqHeader := httpcache.VaryRequestHeader(httpcache.VaryNames(resp.header), r.Header)
	f.status, f.header, f.length, f.shared, f.reqHeader, f.cs = resp.status, resp.header, resp.length, shared, reqHeader, cs
	f.received = resp.received
	close(f.ready)
}

// fail tells followers that the origin gave no response.
func (f *flight) fail(err error) {
	f.err = err
	close(f.ready)
	f.finish(err)
}

// finish ends the body: err nil means it is complete. Only the first call
// counts.
func (f *flight) finish(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	f.done, f.bodyErr = true, err
	close(f.changed)
}

// joined counts a follower in and returns its reader, attached from now
// on: the body it reads is kept for it. The caller holds h.flightsMu, so
// the flight is in the table and not windowed.
func (f *flight) joined() *flightReader {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.followers++
	close(f.changed)
	f.changed = make(chan struct{})
	return f.attachLocked()
}

// late reports whether body bytes went by before a follower joined, so
// that the body is not kept.
func (f *flight) late() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.skipped
}

// wait returns once the flight's body has ended, or ctx is done.
func (f *flight) wait(ctx context.Context) error {
	for {
		f.mu.Lock()
		done, changed := f.done, f.changed
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// join returns the flight for key and whether the caller leads it; a
// follower also gets its reader of the body, which it must close. It
// returns nil when the key was recently uncacheable: the caller then goes
// to the origin on its own.
func (h *Handler) join(key string) (*flight, *flightReader, bool) {
	h.flightsMu.Lock()
	defer h.flightsMu.Unlock()
	if until, ok := h.uncacheable[key]; ok {
		if h.opts.Clock().Before(until) {
			return nil, nil, false
		}
		delete(h.uncacheable, key)
	}
	if f, ok := h.flights[key]; ok {
		return f, f.joined(), false
	}
	f := newFlight(key)
	h.flights[key] = f
	return f, nil, true
}

// followFailure answers a follower whose leader found the origin failing:
// with its own stale response where stale-if-error allows (RFC 5861 §4),
// so that it does not wait for the failing origin a second time; else,
// when the origin answered an error, by asking it on its own; else with
// the leader's failure.
func (h *Handler) followFailure(x *exchange, f *flight) {
	fwd := x.found.fwd
	x.found = h.lookup(x.r.Context(), x.primary, x.r.Header)
	defer x.found.close()
	if h.serveStaleOnError(x, f.errStatus) {
		return
	}
	if f.errStatus != 0 {
		x.found.close()
		h.serveCacheable(x.w, x.r, false)
		return
	}
	h.failOrigin(x.w, x.r, f.err, fwd, x.found.ok && httpcache.StaleForbidden(*x.found.hit.cc))
}

// land ends a flight the caller led: later requests find the store (or
// start a new flight). A flight whose leader ended without publishing (a
// panic) fails, so no follower waits forever. A flight a background fill
// took over is left to it (fillRest lands it).
func (h *Handler) land(f *flight) {
	if f.filling {
		return
	}
	h.endFlight(f)
}

// endFlight takes f out of the table and ends its body, unless it ended.
func (h *Handler) endFlight(f *flight) {
	h.unlist(f)
	select {
	case <-f.ready:
		f.finish(errFlightAbandoned)
	default:
		f.fail(errFlightAbandoned)
	}
}

// unlist takes f out of the table, if it is still there: requests for its
// key no longer join it.
func (h *Handler) unlist(f *flight) {
	h.flightsMu.Lock()
	if h.flights[f.key] == f {
		delete(h.flights, f.key)
	}
	h.flightsMu.Unlock()
}

// unlistUncacheable takes f out of the table and marks its key
// uncacheable, at once: no request joins it from now on.
func (h *Handler) unlistUncacheable(f *flight) {
	h.flightsMu.Lock()
	defer h.flightsMu.Unlock()
	if h.flights[f.key] == f {
		delete(h.flights, f.key)
	}
	h.markUncacheableLocked(f.key)
}

// markUncacheable remembers that key's response was not stored.
func (h *Handler) markUncacheable(key string) {
	h.flightsMu.Lock()
	defer h.flightsMu.Unlock()
	h.markUncacheableLocked(key)
}

func (h *Handler) markUncacheableLocked(key string) {
	if len(h.uncacheable) > 100_000 {
		// Bounded: forget everything rather than grow without limit.
		clear(h.uncacheable)
	}
	h.uncacheable[key] = h.opts.Clock().Add(uncacheableFor)
}

// follow answers a request from another request's flight: the same
// response, streamed as the leader receives it. When the response cannot
// be shared (not storable, another variant, or a stale response served on
// error) the request is served on its own, from the store or the origin.
// rd is the follower's reader of the flight's body (join); it is closed
// before the request goes anywhere else, so that the flight does not keep
// bytes for it.
func (h *Handler) follow(x *exchange, rd *flightReader) {
	defer rd.close()
	f := rd.f
	select {
	case <-f.ready:
	case <-x.r.Context().Done():
		return // the client left; the flight goes on for the others
	}
	if f.err != nil {
		rd.close()
		h.followFailure(x, f)
		return
	}
	if !f.selects(x.r.Header) {
		rd.close()
		h.serveCacheable(x.w, x.r, false)
		return
	}
	if f.late() {
		rd.close()
		h.followLate(x, f)
		return
	}
	cs := f.cs
	cs.Stored, cs.Collapsed = false, true
	rd.ctx = x.r.Context()
	h.stream(x.w, x.r, response{status: f.status, header: f.header, body: rd, length: f.length,
		conditions: byHoardForOrigin}, cs, fill{})
}

// followLate answers a follower that joined after the first bytes of a
// small body went by unkept: once the flight has ended, with the response
// its leader stored, as collapsed. That is the answer the follower would
// have streamed, the origin's to a request made as it waited, so it is
// served whatever the freshness rules would say of it now (a no-cache
// response, a client's reload): each would otherwise go to the origin on
// its own. When the store no longer has that response (evicted, purged,
// not kept), the follower is served as if it had come alone.
func (h *Handler) followLate(x *exchange, f *flight) {
	if f.wait(x.r.Context()) != nil {
		return // the client left
	}
	x.found = h.lookup(x.r.Context(), x.primary, x.r.Header)
	found := &x.found
	if !found.ok || found.hit.entry.ResponseTime.IsZero() || !found.hit.entry.ResponseTime.Equal(f.received) {
		found.close()
		h.serveCacheable(x.w, x.r, false)
		return
	}
	defer found.close()
	d := httpcache.Evaluate(x.r.Header, x.reqCC, found.hit.stored(), h.opts.Clock(), h.policy)
	cs := f.cs
	cs.Stored, cs.Collapsed = false, true
	h.serveStored(x, &found.hit, d, cs)
}
