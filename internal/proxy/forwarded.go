package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The forwarding fields say where a request came from before it reached
// the origin: Forwarded (RFC 7239) and the older X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Host. An origin that believes them may
// build links, redirects or access decisions from them, and what it builds
// ends up in the stored response, which the cache key does not tell apart:
// a client's own copy could poison the cache for everyone. So Hoard sends
// only what it knows from the connection it accepted, and believes the
// fields of a peer only when the peer is in Options.TrustedProxies (a load
// balancer or TLS terminator in front of it): those it keeps and extends.

// setForwardingFields writes the forwarding fields of out, the request to
// the origin for r: the client's copies are dropped unless r came from a
// trusted proxy, and this hop is added.
func (h *Handler) setForwardingFields(out http.Header, r *http.Request) {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = "" // not an address: no X-Forwarded-For, and for=unknown
	}
	trusted := peer != "" && h.trustedPeer(peer)
	if !trusted {
		for name := range out {
			if isForwardingField(name) {
				delete(out, name)
			}
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}

	if peer != "" {
		chain := peer
		if prior := out["X-Forwarded-For"]; len(prior) > 0 {
			chain = strings.Join(prior, ", ") + ", " + peer
		}
		out["X-Forwarded-For"] = []string{chain}
	}
	if _, ok := out["X-Forwarded-Proto"]; !ok {
		out["X-Forwarded-Proto"] = []string{proto}
	}
	if _, ok := out["X-Forwarded-Host"]; !ok {
		out["X-Forwarded-Host"] = []string{r.Host}
	}
	element := forwardedElement(peer, r.Host, proto)
	if prior := out["Forwarded"]; len(prior) > 0 {
		element = strings.Join(prior, ", ") + ", " + element
	}
	out["Forwarded"] = []string{element}
}

// trustedPeer reports whether the address a connection came from is in
// Options.TrustedProxies.
func (h *Handler) trustedPeer(host string) bool {
	if len(h.opts.TrustedProxies) == 0 {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// isForwardingField reports whether a field name is Forwarded, X-Real-IP
// or an X-Forwarded-* field, ignoring case and taking "_" for "-": origins
// behind a CGI-style gateway read X_Forwarded_Host as X-Forwarded-Host.
func isForwardingField(name string) bool {
	return sameFieldName(name, "forwarded") || sameFieldName(name, "x-real-ip") ||
		len(name) > len("x-forwarded-") && sameFieldName(name[:len("x-forwarded-")], "x-forwarded-")
}

// sameFieldName compares name with lower, a lower-case name, ignoring case
// and taking "_" for "-".
func sameFieldName(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// forwardedElement is this hop's element of the Forwarded field (RFC 7239
// §4): the address of the peer Hoard accepted the request from (for, §5.2;
// "unknown" when there is none, §6.2), the Host the request arrived with
// (host, §5.3) and the protocol it arrived over (proto, §5.4). The peer's
// port is left out, as §6 allows.
func forwardedElement(peer, host, proto string) string {
	var b strings.Builder
	b.Grow(len("for=\"[]\";host=\"\";proto=") + len(peer) + len(host) + len(proto) + 2)
	b.WriteString("for=")
	switch {
	case strings.Contains(peer, ":"):
		// An IPv6 address is bracketed, and so quoted (§6); it holds no
		// character a quoted-string escapes.
		b.WriteString(`"[` + peer + `]"`)
	case peer != "":
		writeForwardedValue(&b, peer)
	default:
		b.WriteString("unknown")
	}
	if host != "" {
		b.WriteString(";host=")
		writeForwardedValue(&b, host)
	}
	b.WriteString(";proto=")
	writeForwardedValue(&b, proto)
	return b.String()
}

// writeForwardedValue writes a parameter value of the Forwarded field: a
// token as it is, anything else (an IPv6 address, a host with a port) as a
// quoted-string (RFC 7239 §4, §6; RFC 9110 §5.6.4), so that no value can
// add a parameter or an element of its own.
func writeForwardedValue(b *strings.Builder, v string) {
	if v != "" && strings.IndexFunc(v, func(c rune) bool { return !isTokenChar(c) }) < 0 {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}
