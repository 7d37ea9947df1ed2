package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/hoard-cache/hoard/internal/explain"
	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// ErrBadExplain is wrapped by Explain errors that are the caller's fault.
var ErrBadExplain = errors.New("bad explain request")

// Explain says what the cache holds for an absolute http or https URL, as
// clients request it through Hoard (its host is part of the cache key),
// and why (package explain): every stored variant, read through the same
// store keys as lookup.
//
// When nothing is stored, it asks the origin with a GET, as a miss would,
// carrying reqHeader (nil for none), and explains the answer. That fetch
// is never stored, so that explaining changes nothing a client sees: no
// entry appears, and no credential the operator sends in reqHeader
// decides what others are served. Its body is read only to learn its
// length, up to one byte more than MaxObjectSize, and is discarded.
func (h *Handler) Explain(ctx context.Context, rawURL string, reqHeader http.Header) (explain.Report, error) {
	u, err := absoluteURL(rawURL, ErrBadExplain)
	if err != nil {
		return explain.Report{}, err
	}
	if reqHeader == nil {
		reqHeader = http.Header{}
	}
	primary := keyOfURL(u)
	report := explain.Report{URL: u.String(), Key: primary}
	policy := explain.Policy{HeuristicMax: h.opts.HeuristicMax, StaleIfError: h.opts.StaleIfError, MaxObjectSize: h.opts.MaxObjectSize}
	stored := h.storedVariants(ctx, primary)
	if len(stored) == 0 {
		r, err := h.explainFetch(ctx, primary, rawURL, reqHeader)
		if err != nil {
			return explain.Report{}, err
		}
		stored, report.Fetched = append(stored, r), true
	}
	report.At = h.opts.Clock()
	for _, r := range stored {
		report.Variants = append(report.Variants, explain.Explain(r, policy, report.At))
	}
	return report, nil
}

// storedVariants reads every stored response of a primary key: the one
// entry under it, or each variant its index lists (vary.go).
func (h *Handler) storedVariants(ctx context.Context, primary string) []explain.Response {
	e, body, ok := h.storeGet(ctx, primary)
	if !ok {
		return nil
	}
	body.Close()
	if len(e.Variants) == 0 {
		return []explain.Response{storedResponseOf(primary, e)}
	}
	var variants []explain.Response
	for _, vk := range e.Variants {
		if ve, vbody, ok := h.storeGet(ctx, vk); ok {
			vbody.Close()
			variants = append(variants, storedResponseOf(vk, ve))
		}
	}
	return variants
}

func storedResponseOf(key string, e store.Entry) explain.Response {
	return explain.Response{
		Key: key, Stored: true, Status: e.Status, Header: e.Header, RequestHeader: e.RequestHeader,
		RequestTime: e.RequestTime, ResponseTime: e.ResponseTime, Size: e.Size, Tags: e.Tags,
	}
}

// explainFetch asks the origin for a URL as a miss would (outbound), and
// returns its answer with the decision storeAndServe would make on it. It
// stores nothing.
func (h *Handler) explainFetch(ctx context.Context, primary, rawURL string, reqHeader http.Header) (explain.Response, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return explain.Response{}, fmt.Errorf("%w: %w", ErrBadExplain, err)
	}
	r.Header = reqHeader.Clone()
	r.RequestURI = r.URL.RequestURI()
	if r.URL.Scheme == "https" {
		r.TLS = &tls.ConnectionState{} // so that the forwarding fields say https
	}
	requestTime := h.opts.Clock()
	resp, cancel, err := h.exchangeWithOrigin(nil, false, h.outbound(ctx, r))
	if err != nil {
		return explain.Response{}, fmt.Errorf("explain %s: fetch from the origin: %w", rawURL, err)
	}
	defer cancel()
	responseTime := h.opts.Clock()
	httpcache.RemoveHopByHop(resp.Header)
	ensureDate(resp.Header, responseTime)
	size := resp.ContentLength
	if size < 0 {
		// An unsized body: count it, up to the first byte too many.
		n, err := io.CopyN(io.Discard, resp.Body, h.opts.MaxObjectSize+1)
		if err != nil && !errors.Is(err, io.EOF) {
			resp.Body.Close()
			return explain.Response{}, fmt.Errorf("explain %s: read the origin's body: %w", rawURL, err)
		}
		size = n
	}
	resp.Body.Close()

	respCC := httpcache.ParseResponseCacheControl(resp.Header)
	lifetime := httpcache.FreshnessLifetime(resp.Header, respCC, resp.StatusCode, responseTime, h.opts.HeuristicMax)
	_, why := h.storeDecision(httpcache.Exchange{
		Method: http.MethodGet, ReqHeader: r.Header, ReqCC: httpcache.ParseCacheControl(r.Header),
		Status: resp.StatusCode, RespHeader: resp.Header, RespCC: respCC,
	}, lifetime, size)
	if why == httpcache.ReasonTooLarge && size > h.opts.MaxObjectSize && resp.ContentLength < 0 {
		size = -1 // counted only up to the limit
	}
	key := primary
	if names := httpcache.VaryNames(resp.Header); len(names) > 0 && !slices.Contains(names, "*") {
		key = variantKey(primary, names, r.Header)
	}
	return explain.Response{
		Key: key, NotStored: why, Status: resp.StatusCode, Header: resp.Header, RequestHeader: r.Header,
		RequestTime: requestTime, ResponseTime: responseTime, Size: size, Tags: responseTags(resp.Header),
	}, nil
}
