package httpcache

import (
	"net/http"
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

// RemoveHopByHop deletes from h the connection-specific fields and every
// field that Connection names (RFC 9110 §7.6.1).
func RemoveHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = trimOWS(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}
