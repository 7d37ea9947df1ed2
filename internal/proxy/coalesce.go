package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// uncacheableFor is how long a key whose response turned out not to be
// storable skips request coalescing, so that requests for it do not queue
// behind each other only to go to the origin one by one.
const uncacheableFor = 10 * time.Second

// lateWaitMax is the largest body a flight keeps for followers only if
// one joined before its first byte.
const lateWaitMax = 64 << 10

// maxFlightPrealloc is the largest body a flight sizes its buffer for in
// advance; larger ones grow as they arrive.
const maxFlightPrealloc = 1 << 20

// flight is one origin fetch that concurrent requests for the same primary
// key share (collapsed forwarding). The first request leads: it fetches,
// stores and publishes the response; the others follow: they wait for the
// response header and then stream the body as it arrives.
//
// Contract: ready is closed exactly once, by publish or fail; the fields
// set before it (status ... err) are read-only afterwards. The body grows
// under mu until finish.
//
// Most flights have no followers (every cold miss leads one), so a small
// body (up to lateWaitMax, with a known length) is kept for followers only
// when one joined before its first byte came: a follower that joins later
// (late) waits for the rest of it and is then answered from the store. A
// larger or unsized body is always kept, so that a follower that joins
// mid-way streams it rather than waits for all of it.
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

	mu        sync.Mutex
	body      []byte        // guarded by mu
	followers int           // guarded by mu; how many joined
	keepAll   bool          // guarded by mu; the body is kept even without followers
	skipped   bool          // guarded by mu; body bytes went by unkept, for want of followers
	done      bool          // guarded by mu
	bodyErr   error         // guarded by mu
	changed   chan struct{} // guarded by mu; closed and replaced whenever body, done change
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
	f.mu.Lock()
	f.keepAll = resp.length < 0 || resp.length > lateWaitMax
	if shared && resp.length > 0 && resp.length <= maxFlightPrealloc && (f.keepAll || f.followers > 0) {
		f.body = make([]byte, 0, resp.length)
	}
	f.mu.Unlock()
	close(f.ready)
}

// fail tells followers that the origin gave no response.
func (f *flight) fail(err error) {
	f.err = err
	close(f.ready)
	f.finish(err)
}

// write appends body bytes for the followers, if any joined before the
// first bytes.
func (f *flight) write(p []byte) {
	f.mu.Lock()
	if f.skipped || (f.followers == 0 && !f.keepAll) {
		f.skipped = true
		f.mu.Unlock()
		return
	}
	f.body = append(f.body, p...)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
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

// joined counts a follower in. The caller holds h.flightsMu.
func (f *flight) joined() {
	f.mu.Lock()
	f.followers++
	f.mu.Unlock()
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

// flightReader reads a flight's body from the start, waiting for more as
// the leader receives it.
type flightReader struct {
	ctx context.Context
	f   *flight
	off int
}

func (r *flightReader) Read(p []byte) (int, error) {
	for {
		r.f.mu.Lock()
		if r.off < len(r.f.body) {
			n := copy(p, r.f.body[r.off:])
			r.off += n
			r.f.mu.Unlock()
			return n, nil
		}
		if r.f.done {
			err := r.f.bodyErr
			r.f.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		changed := r.f.changed
		r.f.mu.Unlock()
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// join returns the flight for key and whether the caller leads it. It
// returns nil when the key was recently uncacheable: the caller then goes
// to the origin on its own.
func (h *Handler) join(key string) (*flight, bool) {
	h.flightsMu.Lock()
	defer h.flightsMu.Unlock()
	if until, ok := h.uncacheable[key]; ok {
		if h.opts.Clock().Before(until) {
			return nil, false
		}
		delete(h.uncacheable, key)
	}
	if f, ok := h.flights[key]; ok {
		f.joined()
		return f, false
	}
	f := newFlight(key)
	h.flights[key] = f
	return f, true
}

// followFailure answers a follower whose leader found the origin failing:
// with its own stale response where stale-if-error allows (RFC 5861 §4),
// so that it does not wait for the failing origin a second time; else,
// when the origin answered an error, by asking it on its own; else with
// the leader's failure.
func (h *Handler) followFailure(w http.ResponseWriter, r *http.Request, f *flight, fwd httpcache.Forward) {
	reqCC := httpcache.ParseCacheControl(r.Header)
	found := h.lookup(r.Context(), primaryKey(r), r.Header)
	defer found.close()
	if h.serveStaleOnError(w, r, reqCC, found, f.errStatus, nil) {
		return
	}
	if f.errStatus != 0 {
		found.close()
		h.serveCacheable(w, r, false)
		return
	}
	h.failOrigin(w, r, f.err, fwd, found.ok && httpcache.StaleForbidden(*found.hit.cc))
}

// land ends a flight the caller led: later requests find the store (or
// start a new flight). A flight whose leader ended without publishing (a
// panic) fails, so no follower waits forever.
func (h *Handler) land(f *flight) {
	h.flightsMu.Lock()
	if h.flights[f.key] == f {
		delete(h.flights, f.key)
	}
	h.flightsMu.Unlock()
	select {
	case <-f.ready:
		f.finish(errFlightAbandoned)
	default:
		f.fail(errFlightAbandoned)
	}
}

// markUncacheable remembers that key's response was not stored.
func (h *Handler) markUncacheable(key string) {
	h.flightsMu.Lock()
	defer h.flightsMu.Unlock()
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
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, f *flight, fwd httpcache.Forward) {
	select {
	case <-f.ready:
	case <-r.Context().Done():
		return // the client left; the flight goes on for the others
	}
	if f.err != nil {
		h.followFailure(w, r, f, fwd)
		return
	}
	if !f.shared || !httpcache.VaryMatches(httpcache.VaryNames(f.header), f.reqHeader, r.Header) {
		h.serveCacheable(w, r, false)
		return
	}
	if f.late() {
		h.followLate(w, r, f)
		return
	}
	cs := f.cs
	cs.Stored, cs.Collapsed = false, true
	h.stream(w, r, response{status: f.status, header: f.header, body: &flightReader{ctx: r.Context(), f: f}, length: f.length,
		conditions: byHoardForOrigin}, nil, cs, nil, nil)
}

// followLate answers a follower that joined after the first bytes of a
// small body went by unkept: once the flight has ended, with the response
// its leader stored, as collapsed. That is the answer the follower would
// have streamed, the origin's to a request made as it waited, so it is
// served whatever the freshness rules would say of it now (a no-cache
// response, a client's reload): each would otherwise go to the origin on
// its own. When the store no longer has that response (evicted, purged,
// not kept), the follower is served as if it had come alone.
func (h *Handler) followLate(w http.ResponseWriter, r *http.Request, f *flight) {
	if f.wait(r.Context()) != nil {
		return // the client left
	}
	found := h.lookup(r.Context(), primaryKey(r), r.Header)
	if !found.ok || found.hit.entry.ResponseTime.IsZero() || !found.hit.entry.ResponseTime.Equal(f.received) {
		found.close()
		h.serveCacheable(w, r, false)
		return
	}
	defer found.close()
	d := httpcache.Evaluate(r.Header, httpcache.ParseCacheControl(r.Header), found.hit.stored(), h.opts.Clock(), h.policy)
	cs := f.cs
	cs.Stored, cs.Collapsed = false, true
	h.serveStored(w, r, &found.hit, d, cs)
}
