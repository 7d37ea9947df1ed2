package httpcache

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers shared by this package's tests. They live here because fields.go
// is the file about header fields; every other _test.go uses them.

// t0 is the instant the tests' responses are received. It is a fixed time,
// never the clock: httpcache takes now as a parameter.
var t0 = time.Date(2050, time.August, 18, 2, 1, 18, 0, time.UTC)

// httpDate formats t as an IMF-fixdate without going through FormatDate, so
// that tests of other functions do not depend on the code under test.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// hdr builds a header from name, value pairs. Each pair is added as its own
// field line, so repeating a name gives several lines.
func hdr(kv ...string) http.Header {
	if len(kv)%2 != 0 {
		panic("hdr: odd number of arguments")
	}
	h := make(http.Header)
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// show renders a header for failure messages: "Name: value; Name: value".
func show(h http.Header) string {
	if len(h) == 0 {
		return "no fields"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, "; ")
}

func TestConnectionFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want []string
	}{
		{"no Connection", hdr("Accept-Language", "fr"), nil},
		{"keep-alive and close name no field of the message (RFC 9110 §7.6.1)",
			hdr("Connection", "keep-alive, close", "Accept", "*/*"), nil},
		{"a nominated end-to-end field (RFC 9110 §7.6.1)",
			hdr("Connection", "accept-language", "Accept-Language", "fr", "Accept", "*/*"), []string{"Accept-Language"}},
		{"several lines, white space, a repeat, an absent name (RFC 9110 §7.6.1)",
			hdr("Connection", " X-A ,x-b", "Connection", "X-A, X-Missing", "X-A", "1", "X-B", "2"), []string{"X-A", "X-B"}},
		{"connection-specific fields are left to the proxy (RFC 9110 §7.6.1)",
			hdr("Connection", "Upgrade, TE", "Upgrade", "websocket", "TE", "trailers"), nil},
	}
	for _, tt := range tests {
		if got := ConnectionFields(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ConnectionFields(%s) = %q, want %q", tt.name, show(tt.in), got, tt.want)
		}
	}
}

func TestRemoveHopByHop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			"connection-specific fields removed (RFC 9110 §7.6.1)",
			hdr("Connection", "close", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive",
				"TE", "trailers", "Transfer-Encoding", "chunked", "Upgrade", "h2c", "Trailer", "X-Checksum",
				"Content-Type", "text/plain"),
			hdr("Content-Type", "text/plain"),
		},
		{
			"proxy authentication fields removed (RFC 9111 §3.1)",
			hdr("Proxy-Authenticate", `Basic realm="p"`, "Proxy-Authentication-Info", "nextnonce=x",
				"Proxy-Authorization", "Basic Zm9v", "WWW-Authenticate", `Basic realm="o"`),
			hdr("WWW-Authenticate", `Basic realm="o"`),
		},
		{
			"fields named by Connection removed (RFC 9110 §7.6.1)",
			hdr("Connection", "X-Hop, x-other", "X-Hop", "1", "X-Other", "2", "X-End", "3"),
			hdr("X-End", "3"),
		},
		{
			"Connection names on several lines, with white space (RFC 9110 §7.6.1)",
			hdr("Connection", " X-A ,", "Connection", "\tX-B", "X-A", "1", "X-B", "2", "Age", "4"),
			hdr("Age", "4"),
		},
		{
			"end-to-end fields kept (RFC 9110 §7.6.1)",
			hdr("Cache-Control", "max-age=60", "ETag", `"a"`, "Vary", "Accept"),
			hdr("Cache-Control", "max-age=60", "ETag", `"a"`, "Vary", "Accept"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := show(tt.in)
			got := tt.in.Clone()
			RemoveHopByHop(got)
			if show(got) != show(tt.want) {
				t.Errorf("RemoveHopByHop(%s) left %s, want %s", before, show(got), show(tt.want))
			}
		})
	}
}

// BenchmarkRemoveHopByHop measures the removal on an origin's typical
// response header, which a miss does several times.
func BenchmarkRemoveHopByHop(b *testing.B) {
	src := http.Header{
		"Cache-Control":  {"max-age=3600"},
		"Content-Length": {"1024"},
		"Content-Type":   {"application/octet-stream"},
		"Date":           {"Tue, 01 Dec 2026 12:00:00 GMT"},
		"Etag":           {`"v1"`},
		"Last-Modified":  {"Mon, 30 Nov 2026 12:00:00 GMT"},
		"Connection":     {"keep-alive"},
	}
	h := make(http.Header, len(src))
	b.ReportAllocs()
	for b.Loop() {
		maps.Copy(h, src)
		RemoveHopByHop(h)
	}
	if _, ok := h["Connection"]; ok || len(h) != len(src)-1 {
		b.Fatalf("left %v", h)
	}
}
