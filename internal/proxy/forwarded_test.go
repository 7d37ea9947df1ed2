package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// spoofed are the forwarding fields a client sends to make the origin
// believe it came from elsewhere, over https, for another host.
var spoofed = []string{
	"Forwarded", `for=203.0.113.66;host=evil.example;proto=https`,
	"X-Forwarded-For", "203.0.113.66",
	"X-Forwarded-Host", "evil.example",
	"X-Forwarded-Proto", "https",
	"X-Forwarded-Port", "8443",
	"X-Forwarded-Scheme", "https",
	"X-Forwarded-Prefix", "/evil",
	"X-Real-IP", "203.0.113.66",
	"X_Forwarded_Host", "evil.example", // read as X-Forwarded-Host by CGI-style origins
}

// TestForwardingFields: the origin receives the forwarding fields Hoard
// makes from the connection it accepted, and a client's own copies only
// when the client is a trusted proxy. Found by a black-box probe: Forwarded,
// X-Forwarded-Port and X-Forwarded-Scheme reached the origin from any
// client, and what the origin reflected of them was stored and served to
// clean clients. In the wants, HOST stands for the address of Hoard's
// listener, which the client sends as Host.
func TestForwardingFields(t *testing.T) {
	t.Parallel()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		send    []string
		want    map[string]string // the fields the origin receives; "" means none
	}{
		{"untrusted client: its copies dropped, Hoard's own sent", nil, spoofed, map[string]string{
			"Forwarded":          `for=127.0.0.1;host="HOST";proto=http`,
			"X-Forwarded-For":    "127.0.0.1",
			"X-Forwarded-Host":   "HOST",
			"X-Forwarded-Proto":  "http",
			"X-Forwarded-Port":   "",
			"X-Forwarded-Scheme": "",
			"X-Forwarded-Prefix": "",
			"X-Real-Ip":          "",
			"X_forwarded_host":   "",
		}},
		{"client outside the trusted networks is untrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, spoofed,
			map[string]string{
				"Forwarded":        `for=127.0.0.1;host="HOST";proto=http`,
				"X-Forwarded-For":  "127.0.0.1",
				"X-Forwarded-Host": "HOST",
				"X-Forwarded-Port": "",
				"X-Real-Ip":        "",
			}},
		{"trusted proxy: its fields kept and extended", loopback, []string{
			"Forwarded", `for=198.51.100.7;proto=https;host=www.example`,
			"X-Forwarded-For", "198.51.100.7",
			"X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "www.example",
			"X-Forwarded-Port", "443",
			"X-Real-IP", "198.51.100.7",
		}, map[string]string{
			"Forwarded":         `for=198.51.100.7;proto=https;host=www.example, for=127.0.0.1;host="HOST";proto=http`,
			"X-Forwarded-For":   "198.51.100.7, 127.0.0.1",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "www.example",
			"X-Forwarded-Port":  "443",
			"X-Real-Ip":         "198.51.100.7",
		}},
		{"trusted proxy that sent none: Hoard's own", loopback, nil, map[string]string{
			"Forwarded":         `for=127.0.0.1;host="HOST";proto=http`,
			"X-Forwarded-For":   "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "HOST",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				// An origin that builds a link from what it is told.
				w.Header().Set("Cache-Control", "max-age=300")
				fmt.Fprintf(w, "%s://%s/", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
			}, func(o *Options) { o.TrustedProxies = tt.trusted })
			host := h.front.Listener.Addr().String()
			h.get("/page", tt.send...).expect(t, 200, "", "hoard; fwd=uri-miss; fwd-status=200; ttl=300; stored")
			got := h.origin.last().Header
			for name, want := range tt.want {
				want = strings.ReplaceAll(want, "HOST", host)
				if v := strings.Join(got[name], " | "); v != want {
					t.Errorf("origin received %s: %q, want %q", name, v, want)
				}
			}
		})
	}
}

// TestForwardingFieldsDoNotPoison: what an origin reflects of a client's
// forwarding fields does not reach the next client, since the fields never
// reach the origin.
func TestForwardingFieldsDoNotPoison(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprintf(w, "forwarded=%q port=%q scheme=%q real-ip=%q",
			r.Header.Get("Forwarded"), r.Header.Get("X-Forwarded-Port"), r.Header.Get("X-Forwarded-Scheme"),
			r.Header.Get("X-Real-IP"))
	})
	poisoned := h.get("/home", spoofed...)
	clean := h.get("/home")
	clean.expect(t, 200, poisoned.body, "hoard; hit")
	if strings.Contains(clean.body, "203.0.113.66") || strings.Contains(clean.body, "evil") ||
		strings.Contains(clean.body, "8443") || strings.Contains(clean.body, "https") {
		t.Errorf("a clean client was served what the origin made of another's forwarding fields: %s", clean.body)
	}
}

func TestForwardedElement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, peer, host, proto string
		want                    string
	}{
		{"IPv4 and a host name are tokens (RFC 7239 §4)", "192.0.2.43", "example.com", "http",
			`for=192.0.2.43;host=example.com;proto=http`},
		{"an IPv6 address is bracketed and quoted (RFC 7239 §6)", "2001:db8:cafe::17", "example.com", "https",
			`for="[2001:db8:cafe::17]";host=example.com;proto=https`},
		{"a host with a port is quoted (RFC 7239 §4)", "192.0.2.43", "example.com:8080", "http",
			`for=192.0.2.43;host="example.com:8080";proto=http`},
		{"a host with an IPv6 literal is quoted", "::1", "[::1]:8080", "http",
			`for="[::1]";host="[::1]:8080";proto=http`},
		{"no peer address is unknown (RFC 7239 §6.2)", "", "example.com", "http",
			`for=unknown;host=example.com;proto=http`},
		{"no host, no host parameter", "192.0.2.43", "", "http", `for=192.0.2.43;proto=http`},
		{"a host cannot add parameters or elements", "192.0.2.43", `a;proto=https,for="x`, "http",
			`for=192.0.2.43;host="a;proto=https,for=\"x";proto=http`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := forwardedElement(tt.peer, tt.host, tt.proto); got != tt.want {
				t.Errorf("forwardedElement(%q, %q, %q) = %s, want %s", tt.peer, tt.host, tt.proto, got, tt.want)
			}
		})
	}
}

func TestIsForwardingField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"Forwarded", true},
		{"X-Forwarded-For", true},
		{"X-Forwarded-Port", true},
		{"X-Forwarded-Scheme", true},
		{"X-Forwarded-Ssl", true},
		{"X-Real-Ip", true},
		{"x-real-ip", true},
		{"X_Forwarded_Host", true},
		{"X-Forwarded-", false}, // no field name after the prefix
		{"X-Forwarded", false},
		{"Forwarded-For", false},
		{"X-Forwardedfor", false},
		{"Via", false},
	}
	for _, tt := range tests {
		if got := isForwardingField(tt.name); got != tt.want {
			t.Errorf("isForwardingField(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
