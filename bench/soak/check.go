//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// figures are what the soak counts. The three marked "must be 0" fail it.
type figures struct {
	requests, ok, partial, hits, stale             atomic.Int64
	status5xx, otherStatus, transportErrors        atomic.Int64
	truncatedDetected, vanished, slowReads, purges atomic.Int64

	wrongBodies       atomic.Int64 // must be 0
	truncatedComplete atomic.Int64 // must be 0
	staleMissed       atomic.Int64 // must be 0: a 5xx while a usable stale entry existed

	mu       sync.Mutex
	examples []string // guarded by mu: the first few failures, to print
}

func (f *figures) fail(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.examples) < 20 {
		f.examples = append(f.examples, fmt.Sprintf(format, args...))
	}
}

// freshness tracks, for each URL, when a client last received a fresh
// response that Hoard had stored (a hit, or a miss it stored). From then
// on Hoard holds an entry it may serve stale for the class's
// stale-if-error allowance past its freshness, so a 5xx for a request
// started within that allowance of the receipt means a usable stale entry
// was not used. Conservatively: the window opens a second after the
// receipt (the store commits just after the client's last byte) and
// closes staleMargin before the allowance ends (Age is in whole seconds);
// a PURGE of the URL closes it, and receipts of requests started less
// than purgeQuiet after a purge do not open it (a fill begun before the
// purge is served but not stored).
type freshness struct {
	mu       sync.Mutex
	received map[string]time.Time // guarded by mu
	purged   map[string]time.Time // guarded by mu
}

const (
	commitGrace = time.Second
	staleMargin = 2 * time.Second
	purgeQuiet  = 10 * time.Second
)

func newFreshness() *freshness {
	return &freshness{received: map[string]time.Time{}, purged: map[string]time.Time{}}
}

// servedFresh records a fresh, stored response received at now for a
// request started at start.
func (t *freshness) servedFresh(path string, start, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.purged[path]; ok && start.Before(p.Add(purgeQuiet)) {
		return
	}
	t.received[path] = now
}

// purging is called before a PURGE of path is sent.
func (t *freshness) purging(path string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.received, path)
	t.purged[path] = now
}

// usableStale reports whether a request for path started at start had a
// usable stale entry, and since when a fresh one was received.
func (t *freshness) usableStale(path string, start time.Time) (bool, time.Duration) {
	c, ok := classOf(path)
	if !ok || c.staleIfError == 0 {
		return false, 0
	}
	t.mu.Lock()
	got, ok := t.received[path]
	t.mu.Unlock()
	since := start.Sub(got)
	return ok && since >= commitGrace && since < c.staleIfError-staleMargin, since
}

// checker judges what clients receive.
type checker struct {
	f     *figures
	fresh *freshness
}

// response is what a client received: the status, the header, and the
// body (or the part of the range asked for), with whether it looked
// complete: read to the end its framing gave, without error.
type response struct {
	path     string
	start    time.Time
	status   int
	header   http.Header
	body     []byte
	complete bool
	err      error
}

// check counts r and judges its body against the path's.
func (c *checker) check(r response) {
	f := c.f
	f.requests.Add(1)
	cs := r.header.Get("Cache-Status")
	if strings.Contains(cs, "; hit") {
		f.hits.Add(1)
	}
	if strings.Contains(cs, "detail=stale") {
		f.stale.Add(1)
	}
	switch {
	case r.status == http.StatusOK:
		f.ok.Add(1)
		if c.body(r, 0, expectedOf(r.path).size) && c.freshAndStored(r, cs) {
			c.fresh.servedFresh(r.path, r.start, time.Now())
		}
	case r.status == http.StatusPartialContent:
		f.partial.Add(1)
		first, last, size, ok := contentRange(r.header.Get("Content-Range"))
		if !ok || size != expectedOf(r.path).size {
			f.fail(&f.wrongBodies, "%s: 206 with Content-Range %q; the body has %d bytes",
				r.path, r.header.Get("Content-Range"), expectedOf(r.path).size)
			return
		}
		c.body(r, first, last+1)
	case r.status >= 500:
		f.status5xx.Add(1)
		if usable, since := c.fresh.usableStale(r.path, r.start); usable {
			f.fail(&f.staleMissed, "%s: %d (Cache-Status %q) %.1fs after a fresh stored copy was served",
				r.path, r.status, cs, since.Seconds())
		}
	default:
		f.fail(&f.otherStatus, "%s: status %d (Cache-Status %q)", r.path, r.status, cs)
	}
}

// body judges a body that must be bytes [from, to) of the path's. It
// reports whether it was right and complete.
func (c *checker) body(r response, from, to int) bool {
	f := c.f
	want := expectedOf(r.path)
	if r.complete && from == 0 && to == want.size && len(r.body) == want.size && sha256.Sum256(r.body) == want.sum {
		return true
	}
	full := bodyOf(r.path)
	if from > to || to > len(full) {
		f.fail(&f.wrongBodies, "%s: asked for bytes %d-%d of %d", r.path, from, to-1, len(full))
		return false
	}
	want2 := full[from:to]
	switch {
	case r.complete && bytes.Equal(r.body, want2):
		return true
	case !bytes.HasPrefix(want2, r.body):
		f.fail(&f.wrongBodies, "%s: %d: %d bytes that are not the body's (want %d; complete-looking %v, %v)",
			r.path, r.status, len(r.body), len(want2), r.complete, r.err)
	case r.complete:
		f.fail(&f.truncatedComplete, "%s: %d: %d of %d bytes, looking complete (Content-Length %q, Cache-Status %q)",
			r.path, r.status, len(r.body), len(want2), r.header.Get("Content-Length"), r.header.Get("Cache-Status"))
	default:
		f.truncatedDetected.Add(1)
	}
	return false
}

// freshAndStored reports whether a 200 was fresh (Age below its max-age)
// and is one Hoard holds: a hit, or a miss it stored.
func (c *checker) freshAndStored(r response, cs string) bool {
	cl, ok := classOf(r.path)
	if !ok || cl.staleIfError == 0 || !(strings.Contains(cs, "; hit") || strings.Contains(cs, "; stored")) {
		return false
	}
	age, _ := strconv.Atoi(r.header.Get("Age"))
	return time.Duration(age)*time.Second < cl.maxAge
}

// contentRange parses "bytes FIRST-LAST/SIZE".
func contentRange(v string) (first, last, size int, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, total, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.Atoi(a)
	last, err2 = strconv.Atoi(b)
	size, err3 = strconv.Atoi(total)
	return first, last, size, err1 == nil && err2 == nil && err3 == nil && first <= last && last < size
}
