package httpcache

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestSafeMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		want   bool
	}{
		{"GET", true}, {"HEAD", true}, {"OPTIONS", true}, {"TRACE", true},
		{"POST", false}, {"PUT", false}, {"DELETE", false}, {"PATCH", false}, {"CONNECT", false},
		// RFC 9111 §4.4 counts methods whose safety is unknown as unsafe;
		// method names are case-sensitive (RFC 9110 §9.1).
		{"PURGE", false}, {"get", false},
	}
	for _, tt := range tests {
		if got := SafeMethod(tt.method); got != tt.want {
			t.Errorf("SafeMethod(%q) = %v, want %v (RFC 9110 §9.2.1)", tt.method, got, tt.want)
		}
	}
}

func TestInvalidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		status int
		want   bool
	}{
		{"POST answered 200 invalidates (RFC 9111 §4.4)", "POST", 200, true},
		{"PUT answered 204 invalidates (RFC 9111 §4.4)", "PUT", 204, true},
		{"DELETE answered 200 invalidates (RFC 9111 §4.4)", "DELETE", 200, true},
		{"POST answered 303 invalidates: 3xx is not an error (RFC 9111 §4.4)", "POST", 303, true},
		{"unknown method invalidates (RFC 9111 §4.4)", "PURGE", 200, true},
		{"POST answered 404 does not invalidate (RFC 9111 §4.4)", "POST", 404, false},
		{"POST answered 500 does not invalidate (RFC 9111 §4.4)", "POST", 500, false},
		{"POST answered 100 does not invalidate: not final (RFC 9111 §4.4)", "POST", 100, false},
		{"GET does not invalidate (RFC 9111 §4.4)", "GET", 200, false},
		{"HEAD does not invalidate (RFC 9111 §4.4)", "HEAD", 200, false},
		{"OPTIONS does not invalidate (RFC 9111 §4.4)", "OPTIONS", 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Invalidates(tt.method, tt.status); got != tt.want {
				t.Errorf("Invalidates(%s, %d) = %v, want %v", tt.method, tt.status, got, tt.want)
			}
		})
	}
}

func TestInvalidatedURIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp http.Header
		want []string
	}{
		{"no Location or Content-Location (RFC 9111 §4.4)", hdr(), nil},
		{"absolute Location, same origin (RFC 9111 §4.4)",
			hdr("Location", "https://example.com/c"), []string{"https://example.com/c"}},
		{"absolute-path Location resolved (RFC 9110 §10.2.2)",
			hdr("Location", "/c?x=1"), []string{"https://example.com/c?x=1"}},
		{"relative Content-Location resolved (RFC 9110 §8.7)",
			hdr("Content-Location", "d"), []string{"https://example.com/a/d"}},
		{"dot segments resolved (RFC 3986 §5.2)",
			hdr("Content-Location", "../e"), []string{"https://example.com/e"}},
		{"both fields (RFC 9111 §4.4)",
			hdr("Location", "/c", "Content-Location", "/d"), []string{"https://example.com/c", "https://example.com/d"}},
		{"other host excluded (RFC 9111 §4.4)",
			hdr("Location", "https://other.example/c"), nil},
		{"other scheme excluded (RFC 9111 §4.4)",
			hdr("Location", "http://example.com/c"), nil},
		{"other port excluded (RFC 9111 §4.4)",
			hdr("Location", "https://example.com:8443/c"), nil},
		{"network-path reference to another host excluded (RFC 9111 §4.4)",
			hdr("Content-Location", "//other.example/c"), nil},
		{"unparsable reference ignored (RFC 9111 §4.4)",
			hdr("Location", "%zz", "Content-Location", "/ok"), []string{"https://example.com/ok"}},
	}
	target, err := url.Parse("https://example.com/a/b")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, u := range InvalidatedURIs(target, tt.resp) {
				got = append(got, u.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("InvalidatedURIs(%s, %s) = %q, want %q", target, show(tt.resp), got, tt.want)
			}
		})
	}
	if target.String() != "https://example.com/a/b" {
		t.Errorf("InvalidatedURIs modified its target: %s", target)
	}
}
