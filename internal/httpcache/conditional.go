package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// eTag is a parsed entity tag (RFC 9110 §8.8.3).
type eTag struct {
	weak   bool
	opaque string // with its quotes
}

// parseETag parses one entity-tag: [W/] DQUOTE *etagc DQUOTE.
func parseETag(s string) (eTag, bool) {
	s = trimOWS(s)
	var t eTag
	if strings.HasPrefix(s, "W/") {
		t.weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' || strings.IndexByte(s[1:len(s)-1], '"') >= 0 {
		return eTag{}, false
	}
	t.opaque = s
	return t, true
}

// strongMatch is the strong comparison of RFC 9110 §8.8.3.2: both tags
// strong and their opaque parts identical.
func strongMatch(a, b eTag) bool { return !a.weak && !b.weak && a.opaque == b.opaque }

// weakMatch is the weak comparison of RFC 9110 §8.8.3.2: opaque parts
// identical, weakness ignored.
func weakMatch(a, b eTag) bool { return a.opaque == b.opaque }

// splitETags splits an entity-tag list. Commas inside quoted opaque tags do
// not split. It reports any for "*".
func splitETags(v string) (tags []eTag, any bool) {
	for v != "" {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			break
		}
		if v[0] == '*' {
			any = true
			v = v[1:]
			continue
		}
		start := 0
		if strings.HasPrefix(v, "W/") {
			start = 2
		}
		if start >= len(v) || v[start] != '"' {
			// Malformed member: skip to the next comma.
			i := strings.IndexByte(v, ',')
			if i < 0 {
				break
			}
			v = v[i+1:]
			continue
		}
		end := strings.IndexByte(v[start+1:], '"')
		if end < 0 {
			break
		}
		end += start + 2
		if t, ok := parseETag(v[:end]); ok {
			tags = append(tags, t)
		}
		v = v[end:]
	}
	return tags, any
}

// NotModified reports whether a client's conditional GET or HEAD is
// answered with 304 Not Modified by a stored response with the given fields
// (RFC 9110 §13.1.2, §13.1.3, §13.2.2):
//
//   - If-None-Match, when present, decides: true when one of its tags
//     matches the stored ETag by weak comparison, or it is "*";
//   - otherwise If-Modified-Since: true when the stored Last-Modified (or,
//     lacking one, Date) is no later than its date.
func NotModified(req, stored http.Header) bool {
	return notModified(req, stored, true)
}

// NotModifiedByOrigin is NotModified as an origin server evaluates it on
// its current response (RFC 9110 §13.2.2): If-Modified-Since needs a
// Last-Modified, and is ignored without one (§13.1.3). The Date stand-in
// is for stored responses only (RFC 9111 §4.3.2).
func NotModifiedByOrigin(req, resp http.Header) bool {
	return notModified(req, resp, false)
}

func notModified(req, stored http.Header, dateStandsIn bool) bool {
	if inm := req["If-None-Match"]; len(inm) > 0 {
		current, ok := parseETag(stored.Get("ETag"))
		for _, line := range inm {
			tags, any := splitETags(line)
			if any {
				return true
			}
			if !ok {
				continue
			}
			for _, t := range tags {
				if weakMatch(t, current) {
					return true
				}
			}
		}
		return false
	}
	ims, ok := headerDate(req, "If-Modified-Since")
	if !ok {
		return false
	}
	var last time.Time
	if lm, ok := headerDate(stored, "Last-Modified"); ok {
		last = lm
	} else if d, ok := headerDate(stored, "Date"); ok && dateStandsIn {
		last = d
	} else {
		return false
	}
	return !last.After(ims)
}

// notModifiedFields are the fields a 304 carries from the response it
// stands for (RFC 9110 §15.4.5): those a 200 would have sent among
// Content-Location, Date, ETag, Vary, Cache-Control and Expires, plus
// Last-Modified, which helps the client's own cache. They are in the
// canonical form http.Header keys have.
var notModifiedFields = [...]string{
	"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary",
}

// NotModifiedHeader returns the fields of a 304 answering for a stored
// response (RFC 9110 §15.4.5).
func NotModifiedHeader(stored http.Header) http.Header {
	out := make(http.Header, len(notModifiedFields)+2)
	for _, name := range notModifiedFields {
		if vs, ok := stored[name]; ok {
			out[name] = vs
		}
	}
	return out
}

// containsToken reports whether a comma-separated list contains token,
// compared case-insensitively.
func containsToken(list, token string) bool {
	for _, m := range strings.Split(list, ",") {
		if strings.EqualFold(trimOWS(m), token) {
			return true
		}
	}
	return false
}
