package proxy

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// maxVariants bounds how many variants of one URL are kept in its index and
// how many are read to collect validators on a Vary miss.
const maxVariants = 16

// cached is a stored response read for one request.
type cached struct {
	key   string
	entry store.Entry
	*memo
	body io.ReadCloser // nil for a sibling whose body was not opened
}

// memo is what the proxy derives from a stored response's fields. It is
// computed once when the response is stored and kept in the entry
// (store.Entry.Memo) by in-process stores, so that a hit parses nothing;
// for entries read from other stores it is computed on each read.
type memo struct {
	cc        *httpcache.Directives // shared by responses with the same Cache-Control; never modified
	varyNames []string
	facts     httpcache.Facts
	// contentLength is the Content-Length field of the stored body, when
	// known at store time ("" when not). A response's header gets
	// contentLength[:]: kept in the memo, the field's slice is not an
	// object of its own for the garbage collector to mark.
	contentLength [1]string
}

// memoOf returns the memo of an entry, computing it when the store did not
// keep one.
func (h *Handler) memoOf(e store.Entry) *memo {
	if m, ok := e.Memo.(*memo); ok {
		return m
	}
	return h.newMemo(e, -1)
}

// newMemo derives the memo of an entry whose body has size bytes (-1 when
// not known yet).
func (h *Handler) newMemo(e store.Entry, size int64) *memo {
	m := &memo{cc: h.directives.of(e.Header), varyNames: httpcache.VaryNames(e.Header)}
	for i, name := range m.varyNames {
		// Names may be parts of a stored header's string; the memo
		// outlives that header.
		m.varyNames[i] = strings.Clone(name)
	}
	m.facts = httpcache.Analyze(httpcache.Stored{
		Status: e.Status, Header: e.Header, CC: *m.cc, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime,
	}, h.opts.HeuristicMax)
	if size < 0 && e.Size > 0 {
		size = e.Size
	}
	if size >= 0 {
		m.contentLength[0] = strconv.FormatInt(size, 10)
	}
	return m
}

func (h *Handler) newCached(key string, e store.Entry, body io.ReadCloser) *cached {
	return &cached{key: key, entry: e, memo: h.memoOf(e), body: body}
}

func (c *cached) stored() httpcache.Stored {
	return httpcache.Stored{
		Status: c.entry.Status, Header: c.entry.Header, CC: *c.cc,
		RequestTime: c.entry.RequestTime, ResponseTime: c.entry.ResponseTime,
		Facts: &c.facts,
	}
}

// lookupResult is what the store holds for a request.
type lookupResult struct {
	// hit is the stored response that the request selects, if any; its
	// body is open.
	hit *cached
	// siblings are other stored variants of the URL (bodies not open),
	// whose validators may be offered to the origin (RFC 9111 §4.3.1).
	siblings []*cached
	fwd      httpcache.Forward
	reason   httpcache.Reason
}

func (l *lookupResult) close() {
	if l.hit != nil && l.hit.body != nil {
		l.hit.body.Close()
		l.hit.body = nil
	}
}

// lookup finds the stored response that a request selects (RFC 9111 §4.1):
// the entry under the primary key, or, when the URL has variants, the one
// whose secondary key the request matches.
func (h *Handler) lookup(ctx context.Context, primary string, req http.Header) lookupResult {
	e, body, ok := h.storeGet(ctx, primary)
	if !ok {
		return lookupResult{fwd: httpcache.FwdURIMiss}
	}
	if len(e.Variants) == 0 {
		c := h.newCached(primary, e, body)
		if httpcache.VaryMatches(c.varyNames, e.RequestHeader, req) {
			return lookupResult{hit: c}
		}
		body.Close()
		c.body = nil
		return lookupResult{fwd: httpcache.FwdVaryMiss, siblings: []*cached{c}}
	}
	body.Close() // an index has no body
	res := lookupResult{fwd: httpcache.FwdVaryMiss}
	for _, vk := range e.Variants {
		if !variantMatches(primary, vk, req) {
			continue
		}
		ve, vbody, ok := h.storeGet(ctx, vk)
		if !ok {
			break
		}
		if c := h.newCached(vk, ve, vbody); httpcache.VaryMatches(c.varyNames, ve.RequestHeader, req) {
			res.hit = c
			return res
		}
		vbody.Close()
	}
	for _, vk := range e.Variants[:min(len(e.Variants), maxVariants)] {
		if ve, vbody, ok := h.storeGet(ctx, vk); ok {
			vbody.Close()
			res.siblings = append(res.siblings, h.newCached(vk, ve, nil))
		}
	}
	return res
}

// addVariant records vk in the variant index of primary, newest first.
func (h *Handler) addVariant(ctx context.Context, primary, vk string, e store.Entry, t *ticket) {
	mu := h.indexLock(primary)
	mu.Lock()
	defer mu.Unlock()
	if t.outdated() {
		// An invalidation came after the variant was stored, and, not
		// finding it in the index, left it: it goes now, unindexed.
		h.storeDelete(ctx, vk)
		return
	}
	variants := []string{vk}
	expires := e.Expires
	if old, body, ok := h.storeGet(ctx, primary); ok {
		body.Close()
		for _, v := range old.Variants {
			if v != vk && len(variants) < maxVariants {
				variants = append(variants, v)
			}
		}
		if old.Expires.IsZero() || expires.IsZero() {
			expires = time.Time{}
		} else if old.Expires.After(expires) {
			expires = old.Expires
		}
	}
	bw, err := h.opts.Store.Put(ctx, primary, store.Entry{Variants: variants, Expires: expires})
	if err == nil {
		err = bw.Commit()
	}
	if err != nil {
		h.opts.Logger.Warn("store variant index failed", "cache_key", primary, "error", err)
	}
}

// invalidate removes what is stored for a primary key, variants included
// (RFC 9111 §4.4), and reports whether anything was stored.
func (h *Handler) invalidate(ctx context.Context, primary string) bool {
	h.pending.invalidate(primary)
	mu := h.indexLock(primary)
	mu.Lock()
	defer mu.Unlock()
	e, body, found := h.storeGet(ctx, primary)
	if found {
		body.Close()
		for _, vk := range e.Variants {
			h.storeDelete(ctx, vk)
		}
	}
	h.storeDelete(ctx, primary)
	return found
}

func (h *Handler) storeDelete(ctx context.Context, key string) {
	if err := h.opts.Store.Delete(ctx, key); err != nil {
		h.opts.Logger.Warn("store delete failed", "cache_key", key, "error", err)
	}
}

// directiveCache hands out one parsed, immutable copy of each distinct
// response Cache-Control value, so that the memos of stored responses
// share them instead of each holding its own. It is bounded: once full it
// parses without keeping.
type directiveCache struct {
	mu sync.Mutex                       // guards m
	m  map[string]*httpcache.Directives // by the raw field lines, joined
}

// maxSharedDirectives bounds directiveCache.
const maxSharedDirectives = 4096

// of returns the parsed response directives of h (RFC 9111 §5.2, or
// RFC 9213 when h has a valid CDN-Cache-Control).
func (c *directiveCache) of(h http.Header) *httpcache.Directives {
	lines := h["Cache-Control"]
	if len(lines) > 1 || len(h["Cdn-Cache-Control"]) > 0 {
		d := httpcache.ParseResponseCacheControl(h)
		return &d
	}
	raw := ""
	if len(lines) == 1 {
		raw = lines[0]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[raw]; ok {
		return d
	}
	d := httpcache.ParseResponseCacheControl(h)
	if c.m == nil {
		c.m = map[string]*httpcache.Directives{}
	}
	if len(c.m) < maxSharedDirectives {
		c.m[strings.Clone(raw)] = &d // raw may be part of a stored header's larger string
	}
	return &d
}
