package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// This file is where Vary is matched (RFC 9111 §4.1): which stored response
// a request selects (lookup), the store key of a variant, the variant index
// under the primary key, and whether a follower may share its flight's
// response.

// maxVariants bounds how many variants of one URL are kept in its index and
// how many are read to collect validators on a Vary miss.
const maxVariants = 16

// lookupResult is what the store holds for a request.
type lookupResult struct {
	// hit, when ok, is the stored response that the request selects; its
	// body is open. It is held here, not pointed to, so that a hit
	// allocates no cached of its own.
	hit cached
	ok  bool
	// siblings are other stored variants of the URL (bodies not open),
	// whose validators may be offered to the origin (RFC 9111 §4.3.1).
	siblings []*cached
	fwd      httpcache.Forward
	reason   httpcache.Reason
}

func (l *lookupResult) close() {
	if l.ok && l.hit.body != nil {
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
			return lookupResult{hit: c, ok: true}
		}
		body.Close()
		sibling := c // a copy, so that c stays off the heap
		sibling.body = nil
		return lookupResult{fwd: httpcache.FwdVaryMiss, siblings: []*cached{&sibling}}
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
			res.hit, res.ok = c, true
			return res
		}
		vbody.Close()
	}
	for _, vk := range e.Variants[:min(len(e.Variants), maxVariants)] {
		if ve, vbody, ok := h.storeGet(ctx, vk); ok {
			vbody.Close()
			c := h.newCached(vk, ve, nil)
			res.siblings = append(res.siblings, &c)
		}
	}
	return res
}

// variantSep separates a primary key from the secondary key in the store
// key of a response that has Vary. A NUL cannot occur in a request target.
const variantSep = "\x00"

// variantKey is the store key of a response with Vary: the primary key, then
// the nominated field names with this request's values (RFC 9111 §4.1).
func variantKey(primary string, names []string, req http.Header) string {
	return primary + variantSep + httpcache.SecondaryKey(names, req)
}

// variantMatches reports whether a request selects the variant stored under
// key vk: the secondary key carries the field names, so the request's
// secondary key for those names must be the same string.
func variantMatches(primary, vk string, req http.Header) bool {
	secondary, ok := strings.CutPrefix(vk, primary+variantSep)
	if !ok {
		return false
	}
	var names []string
	for _, member := range strings.Split(secondary, "&") {
		name, _, _ := strings.Cut(member, "=")
		n, err := url.QueryUnescape(name)
		if err != nil || n == "" {
			return false
		}
		names = append(names, n)
	}
	return httpcache.SecondaryKey(names, req) == secondary
}

// selects reports whether a request selects the response a flight is
// storing, as it would select it once stored (RFC 9111 §4.1): a follower
// shares it only then.
func (f *flight) selects(req http.Header) bool {
	return f.shared && httpcache.VaryMatches(httpcache.VaryNames(f.header), f.reqHeader, req)
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
