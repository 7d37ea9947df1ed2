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

// NormalizeFieldValue combines the field lines of name in h into one value
// (RFC 9110 §5.3) and trims the white space around list members, which
// does not change the meaning of any list-based field (RFC 9111 §4.1).
// Commas and white space inside quoted strings are kept as they are. It
// reports false when the field is absent: an absent field only matches an
// absent one (RFC 9111 §4.1).
//
// The values of Accept-Encoding, Accept-Language and Accept-Charset are
// compared in lower case: content codings, language ranges and charset
// names are case-insensitive (RFC 9110 §8.4.1, §12.5.4; RFC 4647 §2).
func NormalizeFieldValue(h http.Header, name string) (string, bool) {
	name = textproto.CanonicalMIMEHeaderKey(name)
	vs, ok := h[name]
	if !ok {
		return "", false
	}
	v := normalizeMembers(vs)
	if caseInsensitiveValue[name] {
		v = strings.ToLower(v)
	}
	return v, true
}

// caseInsensitiveValue lists the fields whose values Vary compares without
// regard to case.
var caseInsensitiveValue = map[string]bool{
	"Accept-Encoding": true,
	"Accept-Language": true,
	"Accept-Charset":  true,
}

// normalizeMembers joins field lines and trims list members.
func normalizeMembers(vs []string) string {
	if len(vs) == 1 && !strings.ContainsAny(vs[0], ", \t\"") {
		return vs[0]
	}
	var b strings.Builder
	first := true
	for _, line := range vs {
		for _, member := range splitList(line) {
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

// splitList splits a list-based field value at the commas that are not
// inside a quoted string (RFC 9110 §5.6.1, §5.6.4), trimming each member.
func splitList(v string) []string {
	var members []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			members = append(members, trimOWS(v[start:i]))
			start = i + 1
		}
	}
	return append(members, trimOWS(v[start:]))
}

// SecondaryKey is the part of a cache key that Vary adds (RFC 9111 §4.1):
// each nominated field name with the request's normalised value, or the
// bare name when the request lacks the field. Two requests with the same
// secondary key for the same names select the same stored response. The
// names must come from VaryNames.
func SecondaryKey(names []string, req http.Header) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(n))
		if v, ok := NormalizeFieldValue(req, n); ok {
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// VaryMatches reports whether a request matches a stored response whose
// Vary names and request fields are given (RFC 9111 §4.1): every nominated
// field is absent from both, or present in both with the same normalised
// value; "*" never matches.
func VaryMatches(names []string, stored, req http.Header) bool {
	for _, n := range names {
		if n == "*" {
			return false
		}
		a, aok := NormalizeFieldValue(stored, n)
		b, bok := NormalizeFieldValue(req, n)
		if aok != bok || a != b {
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
