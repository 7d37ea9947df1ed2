package httpcache

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// VaryNames returns the field names a response's Vary field nominates
// (RFC 9111 §4.1), in canonical form, sorted and without duplicates. It
// returns nil for a response without Vary. A "*" member is returned as "*".
func VaryNames(h http.Header) []string {
	var names []string
	for _, line := range h.Values("Vary") {
		for _, n := range strings.Split(line, ",") {
			n = trimOWS(n)
			if n == "" {
				continue
			}
			if n != "*" {
				n = textproto.CanonicalMIMEHeaderKey(n)
			}
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// VaryStar reports whether a response's Vary field contains "*", which no
// later request can match (RFC 9111 §4.1).
func VaryStar(h http.Header) bool {
	return slices.Contains(VaryNames(h), "*")
}

// NormalizeFieldValue combines the field lines of name in h into one value
// (RFC 9110 §5.3) and normalises white space around list commas, which does
// not change the meaning of any list-based field (RFC 9111 §4.1). An absent
// field and an empty one both give "".
func NormalizeFieldValue(h http.Header, name string) string {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		if !strings.ContainsAny(vs[0], ", \t") {
			return vs[0]
		}
	}
	var b strings.Builder
	first := true
	for _, line := range vs {
		for _, member := range strings.Split(line, ",") {
			member = strings.Join(strings.Fields(member), " ")
			if member == "" {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			b.WriteString(member)
		}
	}
	return b.String()
}

// SecondaryKey is the part of a cache key that Vary adds (RFC 9111 §4.1):
// each nominated field name with the request's normalised value. Two
// requests with the same secondary key for the same names select the same
// stored response. The names must come from VaryNames.
func SecondaryKey(names []string, req http.Header) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(n))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(NormalizeFieldValue(req, n)))
	}
	return b.String()
}

// VaryMatches reports whether a request matches a stored response whose
// Vary names and request fields are given (RFC 9111 §4.1): every nominated
// field has the same normalised value in both; "*" never matches.
func VaryMatches(names []string, stored, req http.Header) bool {
	for _, n := range names {
		if n == "*" {
			return false
		}
		if NormalizeFieldValue(stored, n) != NormalizeFieldValue(req, n) {
			return false
		}
	}
	return true
}

// VaryRequestHeader copies from req the fields that names nominate, to keep
// beside a stored response.
func VaryRequestHeader(names []string, req http.Header) http.Header {
	if len(names) == 0 {
		return nil
	}
	out := make(http.Header, len(names))
	for _, n := range names {
		if vs := req.Values(n); len(vs) > 0 {
			out[n] = slices.Clone(vs)
		}
	}
	return out
}
