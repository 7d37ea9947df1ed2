package httpcache

import (
	"iter"
	"net/http"
	"slices"
	"strings"
)

// hopByHop are the fields that describe one connection rather than the
// message (RFC 9110 §7.6.1), plus the proxy authentication fields a cache
// must not store (RFC 9111 §3.1). Keep-Alive and Proxy-Connection are not
// standard but are sent by old implementations with the same meaning.
var hopByHop = [...]string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authentication-Info",
	"Proxy-Authorization",
	"Te", // TE, in the canonical form of http.Header keys
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// connectionOptions yields the options of h's Connection field lines (RFC
// 9110 §7.6.1), trimmed, without empty ones. It allocates nothing.
func connectionOptions(h http.Header) iter.Seq[string] {
	lines := h["Connection"]
	return func(yield func(string) bool) {
		for _, v := range lines {
			for v != "" {
				var option string
				option, v, _ = strings.Cut(v, ",")
				if option = trimOWS(option); option != "" && !yield(option) {
					return
				}
			}
		}
	}
}

// ConnectionFields returns the names (canonical) of the fields of h that
// its Connection field nominates, leaving out the connection-specific ones
// above, whose meaning a proxy knows. The others describe the connection,
// not the message (RFC 9110 §7.6.1): they take no part in its meaning, and
// so none in selecting a stored response for it.
//
// The usual values, "keep-alive" and "close", cost no allocation: most
// clients send one of them with every request.
func ConnectionFields(h http.Header) []string {
	var names []string
	for option := range connectionOptions(h) {
		if strings.EqualFold(option, "keep-alive") || strings.EqualFold(option, "close") {
			continue
		}
		name := http.CanonicalHeaderKey(option)
		if _, ok := h[name]; ok && !slices.Contains(hopByHop[:], name) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// RemoveHopByHop deletes from h the connection-specific fields and every
// field that Connection names (RFC 9110 §7.6.1).
func RemoveHopByHop(h http.Header) {
	for option := range connectionOptions(h) {
		h.Del(option)
	}
	for _, name := range hopByHop {
		delete(h, name) // already canonical: what h.Del would look up, without canonicalising it again
	}
}
