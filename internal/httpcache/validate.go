package httpcache

import (
	"net/http"
	"strings"
)

// ConditionalHeaders returns the validators to send when validating stored
// responses (RFC 9111 §4.3.1): If-None-Match with the entity tags of every
// candidate (several when Vary keeps more than one variant), and
// If-Modified-Since with the Last-Modified of the selected one. Either may
// be empty.
func ConditionalHeaders(selected http.Header, others ...http.Header) (ifNoneMatch, ifModifiedSince string) {
	var tags []string
	add := func(h http.Header) {
		if h == nil {
			return
		}
		if t := strings.TrimSpace(h.Get("ETag")); t != "" {
			for _, have := range tags {
				if have == t {
					return
				}
			}
			tags = append(tags, t)
		}
	}
	add(selected)
	for _, h := range others {
		add(h)
	}
	ifNoneMatch = strings.Join(tags, ", ")
	if selected != nil {
		// The stored value is sent as received: an origin may compare
		// it as a string.
		if _, ok := headerDate(selected, "Last-Modified"); ok {
			ifModifiedSince = selected.Get("Last-Modified")
		}
	}
	return ifNoneMatch, ifModifiedSince
}

// SelectFor304 picks which stored response a 304 Not Modified refreshes
// (RFC 9111 §4.3.4): the one whose strong entity tag the 304 carries, or
// for a weak one the first whose tag it matches weakly; else, with no
// entity tag, the one whose Last-Modified matches; else, when the
// 304 has no validators, the only candidate. It returns -1 when none may be
// updated.
func SelectFor304(resp http.Header, candidates []http.Header) int {
	if etag := resp.Get("ETag"); etag != "" {
		t, ok := parseETag(etag)
		if !ok {
			return -1
		}
		for i, h := range candidates {
			if c, ok := parseETag(h.Get("ETag")); ok && strongMatch(t, c) {
				return i
			}
		}
		// A strong tag refreshes only a response with the same strong tag.
		// A weak one refreshes a response whose tag it matches by weak
		// comparison (RFC 9110 §8.8.3.2), strong or weak: an origin that
		// compresses on the fly often weakens the tag it was asked about.
		if t.weak {
			for i, h := range candidates {
				if c, ok := parseETag(h.Get("ETag")); ok && weakMatch(t, c) {
					return i
				}
			}
		}
		return -1
	}
	if lm := resp.Get("Last-Modified"); lm != "" {
		for i, h := range candidates {
			if h.Get("Last-Modified") == lm {
				return i
			}
		}
		return -1
	}
	// Without validators, the 304 answers a validation built from the only
	// candidate, so it refreshes that one (§4.3.3: "the stored response can
	// be updated and reused"). §4.3.4 reads stricter (only a candidate
	// without validators); every widely used cache, and the cache-tests
	// suite, take the 304 to a single-response validation as refreshing it.
	if len(candidates) == 1 {
		return 0
	}
	return -1
}

// UpdateStoredHeader returns stored updated with the fields of a 304 or
// HEAD response (RFC 9111 §3.2, §4.3.4): each field in the new response
// replaces the stored field of that name, except the connection-specific
// ones, Content-Length and the fields that are one client's alone
// (Set-Cookie, unsharedFields), which the stored header is left without
// even when an older Hoard stored them. Neither argument is modified.
func UpdateStoredHeader(stored, fresh http.Header) http.Header {
	out := stored.Clone()
	update := fresh.Clone()
	RemoveHopByHop(update)
	for name, vs := range update {
		// Content-Length describes the stored body, not the 304 (§3.2).
		if name == "Content-Length" {
			continue
		}
		out[name] = vs
	}
	// The stored Age described the old response when it was received; the
	// refreshed one is as old as the 304 says (§4.2.3), so an Age the 304
	// does not repeat is dropped rather than carried forward.
	if _, ok := update["Age"]; !ok {
		delete(out, "Age")
	}
	RemoveUnshared(out)
	// Fields a qualified private names are never stored (§3.1, §5.2.2.7).
	for _, f := range ParseCacheControl(out).PrivateFields {
		out.Del(f)
	}
	return out
}
