package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/metrics"
	"github.com/hoard-cache/hoard/internal/store"
)

// Purge names what to remove from the cache: absolute URLs (every variant
// of each), URL prefixes and tags.
type Purge struct {
	URLs     []string `json:"urls,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// ErrBadPurge is wrapped by Purge errors that are the caller's fault.
var ErrBadPurge = errors.New("bad purge request")

// Purge removes what p names and returns how many stored responses went:
// each variant of a URL counts, its variant index does not, whether it was
// named by URL, prefix or tag.
// URLs and prefixes must be absolute http or https URLs. Prefixes and tags
// need a store that can purge (store.Purger).
func (h *Handler) Purge(ctx context.Context, p Purge) (int, error) {
	n, err := h.purgeAll(ctx, p)
	result := metrics.PurgeDone
	if err != nil {
		result = metrics.PurgeFailed
	}
	h.opts.Metrics.Purged(metrics.PurgeAdmin, result, n)
	return n, err
}

// purgeAll does what Purge says.
func (h *Handler) purgeAll(ctx context.Context, p Purge) (int, error) {
	keys := make([]string, 0, len(p.URLs))
	for _, raw := range p.URLs {
		u, err := absoluteURL(raw, ErrBadPurge)
		if err != nil {
			return 0, err
		}
		keys = append(keys, keyOfURL(u))
	}
	prefixes := make([]string, 0, len(p.Prefixes))
	for _, raw := range p.Prefixes {
		u, err := absoluteURL(raw, ErrBadPurge)
		if err != nil {
			return 0, err
		}
		// A prefix without a path is the whole host: "http://h/", so that
		// it cannot match "http://h.evil/" or another port.
		prefixes = append(prefixes, keyOfURL(u))
	}
	purger, canPurge := h.opts.Store.(store.Purger)
	if (len(prefixes) > 0 || len(p.Tags) > 0) && !canPurge {
		return 0, fmt.Errorf("%w: this store cannot purge by prefix or tag", ErrBadPurge)
	}
	if len(prefixes) > 0 || len(p.Tags) > 0 {
		h.invalidatedAll()
	}
	// Each part is purged even when one fails, so that as much as can be
	// removed, here at least, is.
	n := 0
	var errs []error
	for _, k := range keys {
		m, err := h.invalidate(ctx, k)
		n += m
		errs = append(errs, err)
	}
	for _, prefix := range prefixes {
		m, err := purger.DeletePrefix(ctx, prefix)
		n += m
		if err != nil {
			errs = append(errs, fmt.Errorf("purge prefix %s: %w", prefix, err))
		}
	}
	for _, tag := range p.Tags {
		m, err := purger.DeleteTag(ctx, tag)
		n += m
		if err != nil {
			errs = append(errs, fmt.Errorf("purge tag %s: %w", tag, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, err
	}
	h.opts.Logger.Info("purged", "urls", len(keys), "prefixes", len(prefixes), "tags", len(p.Tags), "entries", n)
	return n, nil
}

// PurgeFailure maps a failed purge to the status and message it is
// answered with, by the PURGE method and the admin API alike:
//   - a request that is not a valid purge (ErrBadPurge) → 400, saying why;
//   - a back tier that failed (store.ErrBackTier: Redis unreachable) → 503:
//     this node's copies were removed, other nodes may still serve theirs;
//   - anything else → 500.
func PurgeFailure(err error) (status int, message string) {
	switch {
	case errors.Is(err, ErrBadPurge):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrBackTier):
		return http.StatusServiceUnavailable, "purge incomplete: the shared store failed; removed from this node only"
	default:
		return http.StatusInternalServerError, "purge failed"
	}
}

// absoluteURL parses an absolute http or https URL; an error wraps bad.
func absoluteURL(raw string, bad error) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute http or https URL", bad, raw)
	}
	return u, nil
}

// servePurge answers the PURGE method: the target URL, every variant, is
// removed. Only clients in Options.PurgeAllow may purge.
func (h *Handler) servePurge(w http.ResponseWriter, r *http.Request) {
	cs := httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: "purge"}
	if !h.purgeAllowed(r.RemoteAddr) {
		h.opts.Logger.Warn("PURGE denied", "client", r.RemoteAddr, "path", r.URL.Path)
		h.opts.Metrics.Purged(metrics.PurgeMethod, metrics.PurgeDenied, 0)
		h.writeError(w, http.StatusForbidden, "PURGE is not allowed from this address", cs)
		return
	}
	n, err := h.invalidate(context.WithoutCancel(r.Context()), primaryKey(r))
	status, answer := http.StatusOK, map[string]any{"purged": n}
	result := metrics.PurgeDone
	if err != nil {
		h.opts.Logger.Error("PURGE failed", "path", r.URL.Path, "purged", n, "error", err)
		result = metrics.PurgeFailed
		status, answer["error"] = PurgeFailure(err)
	}
	h.opts.Metrics.Purged(metrics.PurgeMethod, result, n)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cache-Status", cs.String(h.opts.Name))
	noteStatus(w, cs, err != nil)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer) // the client may be gone
}

func (h *Handler) purgeAllowed(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.opts.PurgeAllow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// responseTags are the invalidation tags an origin attached to a response:
// Surrogate-Key (space-separated) and Cache-Tag (comma-separated).
func responseTags(h http.Header) []string {
	var tags []string
	for _, v := range h.Values("Surrogate-Key") {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h.Values("Cache-Tag") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
