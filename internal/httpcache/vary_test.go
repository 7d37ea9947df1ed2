package httpcache

import (
	"net/http"
	"slices"
	"testing"
)

func TestVaryNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{"no Vary nominates nothing (RFC 9111 §4.1)", hdr(), nil},
		{"names in canonical form, sorted (RFC 9110 §12.5.5)", hdr("Vary", "accept-language, Accept-Encoding"),
			[]string{"Accept-Encoding", "Accept-Language"}},
		{"field names are case-insensitive: duplicates removed (RFC 9110 §5.1)",
			hdr("Vary", "Accept, ACCEPT, accept"), []string{"Accept"}},
		{"several field lines combine (RFC 9110 §5.3)", hdr("Vary", "Accept", "Vary", "Cookie"),
			[]string{"Accept", "Cookie"}},
		{"empty members and white space ignored (RFC 9110 §5.6.1)", hdr("Vary", " , Accept ,\t,"),
			[]string{"Accept"}},
		{"star kept (RFC 9110 §12.5.5)", hdr("Vary", "*"), []string{"*"}},
		{"star among names (RFC 9110 §12.5.5)", hdr("Vary", "Foo, *"), []string{"*", "Foo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VaryNames(tt.h); !slices.Equal(got, tt.want) {
				t.Errorf("VaryNames(%s) = %q, want %q", show(tt.h), got, tt.want)
			}
		})
	}
}

func TestNormalizeFieldValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		h     http.Header
		field string
		want  string
	}{
		{"absent (RFC 9111 §4.1)", hdr(), "Accept", "<absent>"},
		{"empty is present (RFC 9111 §4.1)", hdr("Accept", ""), "Accept", ""},
		{"language ranges compared in lower case (RFC 4647 §2)", hdr("Accept-Language", "en-US, FR"), "Accept-Language", "en-us, fr"},
		{"commas inside a quoted string kept (RFC 9110 §5.6.4)", hdr("X-Custom", `"a,b" , c`), "X-Custom", `"a,b", c`},
		{"single value unchanged", hdr("Accept", "text/html"), "Accept", "text/html"},
		{"field name in any case (RFC 9110 §5.1)", hdr("Accept", "text/html"), "accept", "text/html"},
		{"case of the value kept: not known to be case-insensitive (RFC 9111 §4.1)",
			hdr("X-Token", "AbC"), "X-Token", "AbC"},
		{"lines combined (RFC 9110 §5.3)", hdr("Accept", "text/html", "Accept", "image/png"),
			"Accept", "text/html, image/png"},
		{"white space around commas normalised (RFC 9111 §4.1)", hdr("Accept", "a ,b,\tc"), "Accept", "a, b, c"},
		{"empty members dropped (RFC 9110 §5.6.1)", hdr("Accept", "a,,b,"), "Accept", "a, b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizeFieldValue(tt.h, tt.field)
			if !ok {
				got = "<absent>"
			}
			if got != tt.want {
				t.Errorf("NormalizeFieldValue(%s, %s) = %q, want %q", show(tt.h), tt.field, got, tt.want)
			}
		})
	}
}

// varyMatchTests is shared by TestVaryMatches and TestSecondaryKey: two
// requests match exactly when their secondary keys are equal.
var varyMatchTests = []struct {
	name   string
	vary   string // the stored response's Vary
	stored http.Header
	req    http.Header
	want   bool
}{
	{"same value matches (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "gzip"), true},
	{"different value does not match (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), false},
	{"absent in both matches (RFC 9111 §4.1)", "Accept-Encoding",
		hdr(), hdr(), true},
	{"absent in the stored request only does not match (RFC 9111 §4.1)", "Accept-Encoding",
		hdr(), hdr("Accept-Encoding", "gzip"), false},
	{"absent in the presented request only does not match (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", "gzip"), hdr(), false},
	// RFC 9111 §4.1: "If (after any normalization that might take place) a
	// header field is absent from a request, it can only match another
	// request if it is also absent there." An empty Accept-Encoding means
	// "no content coding" and an absent one "any coding" (RFC 9110 §12.5.3).
	{"absent does not match empty (RFC 9111 §4.1)", "Accept-Encoding",
		hdr(), hdr("Accept-Encoding", ""), false},
	{"empty does not match absent (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", ""), hdr(), false},
	{"empty matches empty (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", ""), hdr("Accept-Encoding", ""), true},
	{"several lines match one combined line (RFC 9111 §4.1)", "Accept",
		hdr("Accept", "text/html", "Accept", "image/png"), hdr("Accept", "text/html, image/png"), true},
	{"white space around commas ignored (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", "gzip,br"), hdr("Accept-Encoding", " gzip ,\tbr "), true},
	{"order of list members significant unless known otherwise (RFC 9111 §4.1)", "X-Custom",
		hdr("X-Custom", "a, b"), hdr("X-Custom", "b, a"), false},
	// White space inside a quoted-string is part of the value (RFC 9110
	// §5.6.4), so removing it is not a normalisation RFC 9111 §4.1 allows.
	{"white space inside a quoted-string significant (RFC 9111 §4.1)", "X-Custom",
		hdr("X-Custom", `"a,b"`), hdr("X-Custom", `"a, b"`), false},
	{"Vary names in any case (RFC 9110 §5.1)", "accept-language, ACCEPT-ENCODING",
		hdr("Accept-Language", "en", "Accept-Encoding", "gzip"), hdr("Accept-Language", "en", "Accept-Encoding", "gzip"), true},
	{"two-way Vary with one field differing does not match (RFC 9111 §4.1)", "Accept-Language, Accept-Encoding",
		hdr("Accept-Language", "en", "Accept-Encoding", "gzip"), hdr("Accept-Language", "fr", "Accept-Encoding", "gzip"), false},
	{"fields not nominated are ignored (RFC 9111 §4.1)", "Accept-Encoding",
		hdr("Accept-Encoding", "gzip", "Cookie", "a=1"), hdr("Accept-Encoding", "gzip", "Cookie", "a=2"), true},
	{"no Vary always matches (RFC 9111 §4.1)", "",
		hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), true},
	{"star never matches (RFC 9111 §4.1)", "*",
		hdr(), hdr(), false},
}

func TestVaryMatches(t *testing.T) {
	t.Parallel()
	for _, tt := range varyMatchTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names := VaryNames(hdr("Vary", tt.vary))
			// The stored request fields are kept as the proxy keeps them.
			stored := VaryRequestHeader(names, tt.stored)
			if got := VaryMatches(names, stored, tt.req); got != tt.want {
				t.Errorf("VaryMatches(Vary: %s, stored %s, request %s) = %v, want %v",
					tt.vary, show(tt.stored), show(tt.req), got, tt.want)
			}
		})
	}
}

func TestSecondaryKey(t *testing.T) {
	t.Parallel()
	for _, tt := range varyMatchTests {
		if slices.Contains(VaryNames(hdr("Vary", tt.vary)), "*") {
			continue // a star response is never stored under any key
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names := VaryNames(hdr("Vary", tt.vary))
			a, b := SecondaryKey(names, tt.stored), SecondaryKey(names, tt.req)
			if (a == b) != tt.want {
				t.Errorf("SecondaryKey(Vary: %s) = %q for %s and %q for %s; equal = %v, want %v",
					tt.vary, a, show(tt.stored), b, show(tt.req), a == b, tt.want)
			}
		})
	}
	t.Run("values cannot forge other names (RFC 9111 §4.1)", func(t *testing.T) {
		t.Parallel()
		names := []string{"A", "B"}
		a := SecondaryKey(names, hdr("A", "x&B=y"))
		b := SecondaryKey(names, hdr("A", "x", "B", "y"))
		if a == b {
			t.Errorf("SecondaryKey(A: x&B=y) = SecondaryKey(A: x; B: y) = %q, want them different", a)
		}
	})
}

func TestVaryRequestHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		names []string
		req   http.Header
		want  http.Header
	}{
		{"no names, nothing kept", nil, hdr("Accept", "a"), nil},
		{"only nominated fields kept (RFC 9111 §4.1)", []string{"Accept"},
			hdr("Accept", "a", "Cookie", "c=1"), hdr("Accept", "a")},
		{"absent field stays absent (RFC 9111 §4.1)", []string{"Accept-Encoding"},
			hdr("Accept", "a"), hdr()},
		{"empty field kept as empty (RFC 9111 §4.1)", []string{"Accept-Encoding"},
			hdr("Accept-Encoding", ""), hdr("Accept-Encoding", "")},
		{"every line kept (RFC 9110 §5.3)", []string{"Accept"},
			hdr("Accept", "a", "Accept", "b"), hdr("Accept", "a", "Accept", "b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := show(tt.req)
			got := VaryRequestHeader(tt.names, tt.req)
			if (got == nil) != (tt.want == nil) || show(got) != show(tt.want) {
				t.Errorf("VaryRequestHeader(%q, %s) = %s (nil %v), want %s (nil %v)",
					tt.names, before, show(got), got == nil, show(tt.want), tt.want == nil)
			}
			for _, vs := range got {
				for i := range vs {
					vs[i] = "changed"
				}
			}
			if show(tt.req) != before {
				t.Errorf("VaryRequestHeader result shares storage with the request: request became %s, was %s",
					show(tt.req), before)
			}
		})
	}
}
