package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// storedResponse is a response the cache is about to store (RFC 9111 §3):
// its status, the header fields it is stored with (§3.1), their directives
// and its freshness lifetime (§4.2.1), and its length, -1 when not known.
type storedResponse struct {
	status   int
	header   http.Header
	cc       httpcache.Directives
	lifetime httpcache.Lifetime
	size     int64
}

// beginStore starts storing a response under the request's key (the
// primary key, or a variant key when the response has Vary): it builds the
// entry from the stored header and the exchange's times and opens the
// store's writer. It returns nil when the store refuses, and what to do once
// the entry is committed. t is the fetch's ticket: the entry is not
// committed if the key was invalidated since the request went out.
func (h *Handler) beginStore(x *exchange, s storedResponse, t *ticket) (store.BodyWriter, func()) {
	r := x.r
	names := httpcache.VaryNames(s.header)
	key := x.primary
	if len(names) > 0 {
		key = variantKey(x.primary, names, r.Header)
	}
	e := store.Entry{
		Status:        s.status,
		Header:        s.header,
		RequestTime:   x.requestTime,
		ResponseTime:  x.responseTime,
		RequestHeader: httpcache.VaryRequestHeader(names, r.Header),
		Tags:          responseTags(s.header),
		Expires:       h.expiresHint(x.responseTime, s.lifetime, s.cc, s.header),
		Size:          max(s.size, 0), // a hint for the store's buffer
	}
	e.Note = h.storedNote(e, s.size)
	bw := h.put(r.Context(), key, e)
	if bw == nil {
		return nil, nil
	}
	return &guardedWriter{BodyWriter: bw, t: t, h: h, ctx: r.Context(), key: key}, h.afterStore(r, x.primary, key, e, t)
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

// invalidate removes what is stored for a primary key, variants included
// (RFC 9111 §4.4), and returns how many stored responses it removed: the
// response under the primary key, or each variant the index lists that was
// still stored (the index itself is not a response). Every key is deleted
// even when one fails; the error is the first failure, which may wrap
// store.ErrBackTier: removed here, perhaps still served by other nodes.
func (h *Handler) invalidate(ctx context.Context, primary string) (int, error) {
	h.pending.invalidate(primary)
	mu := h.indexLock(primary)
	mu.Lock()
	defer mu.Unlock()
	n := 0
	var err error
	e, body, found := h.storeGet(ctx, primary)
	if found {
		body.Close()
		if len(e.Variants) == 0 {
			n = 1
		}
		for _, vk := range e.Variants {
			// Read before deleting, since Delete does not say whether the
			// key was there: an index may name variants evicted since.
			if h.holds(ctx, vk) {
				n++
			}
			err = cmp.Or(err, h.opts.Store.Delete(ctx, vk))
		}
	}
	err = cmp.Or(err, h.opts.Store.Delete(ctx, primary))
	if err != nil {
		return n, fmt.Errorf("invalidate %s: %w", primary, err)
	}
	return n, nil
}

// holds reports whether the store has an entry under key.
func (h *Handler) holds(ctx context.Context, key string) bool {
	_, body, ok := h.storeGet(ctx, key)
	if ok {
		body.Close()
	}
	return ok
}

func (h *Handler) storeDelete(ctx context.Context, key string) {
	if err := h.opts.Store.Delete(ctx, key); err != nil {
		h.opts.Logger.Warn("store delete failed", "cache_key", key, "error", err)
	}
}
