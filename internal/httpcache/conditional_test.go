package httpcache

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	t.Parallel()
	lm := httpDate(t0)
	before := httpDate(t0.Add(-time.Hour))
	after := httpDate(t0.Add(time.Hour))
	tests := []struct {
		name   string
		req    http.Header
		stored http.Header
		want   bool
	}{
		{"If-None-Match matches the stored ETag (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a"`), hdr("ETag", `"a"`), true},
		{"If-None-Match matching nothing (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"b"`), hdr("ETag", `"a"`), false},
		{"weak comparison: weak request tag, strong stored (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `W/"a"`), hdr("ETag", `"a"`), true},
		{"weak comparison: strong request tag, weak stored (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a"`), hdr("ETag", `W/"a"`), true},
		{"weak comparison: both weak (RFC 9110 §8.8.3.2)",
			hdr("If-None-Match", `W/"a"`), hdr("ETag", `W/"a"`), true},
		{"opaque tags compared exactly (RFC 9110 §8.8.3.2)",
			hdr("If-None-Match", `"A"`), hdr("ETag", `"a"`), false},
		{"list, first member (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a", "b", "c"`), hdr("ETag", `"a"`), true},
		{"list, middle member (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a", "b", "c"`), hdr("ETag", `"b"`), true},
		{"list, last member without spaces (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a","b","c"`), hdr("ETag", `"c"`), true},
		{"list over several lines (RFC 9110 §5.3)",
			hdr("If-None-Match", `"a"`, "If-None-Match", `W/"b"`), hdr("ETag", `"b"`), true},
		{"comma inside an opaque tag does not split it (RFC 9110 §8.8.3)",
			hdr("If-None-Match", `"a,b"`), hdr("ETag", `"a,b"`), true},
		{"comma inside an opaque tag, partial tags do not match (RFC 9110 §8.8.3)",
			hdr("If-None-Match", `"a,b"`), hdr("ETag", `"a"`), false},
		{"unquoted tag is not an entity-tag (RFC 9110 §8.8.3)",
			hdr("If-None-Match", "a"), hdr("ETag", `"a"`), false},
		{"star matches any stored response (RFC 9110 §13.1.2)",
			hdr("If-None-Match", "*"), hdr("ETag", `"a"`), true},
		{"star matches a stored response without ETag (RFC 9110 §13.1.2)",
			hdr("If-None-Match", "*"), hdr(), true},
		{"If-None-Match and no stored ETag (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a"`), hdr("Last-Modified", lm), false},
		{"If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2)",
			hdr("If-None-Match", `"b"`, "If-Modified-Since", after), hdr("ETag", `"a"`, "Last-Modified", lm), false},
		{"If-None-Match match wins over an older If-Modified-Since (RFC 9110 §13.2.2)",
			hdr("If-None-Match", `"a"`, "If-Modified-Since", before), hdr("ETag", `"a"`, "Last-Modified", lm), true},
		{"If-Modified-Since equal to Last-Modified (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", lm), hdr("Last-Modified", lm), true},
		{"If-Modified-Since after Last-Modified (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", after), hdr("Last-Modified", lm), true},
		{"If-Modified-Since before Last-Modified (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", before), hdr("Last-Modified", lm), false},
		{"If-Modified-Since in RFC 850 format (RFC 9110 §5.6.7)",
			hdr("If-Modified-Since", "Thursday, 18-Aug-50 02:01:18 GMT"), hdr("Last-Modified", lm), true},
		{"If-Modified-Since compared with Date without Last-Modified (RFC 9111 §4.3.2)",
			hdr("If-Modified-Since", after), hdr("Date", lm), true},
		{"If-Modified-Since before Date without Last-Modified (RFC 9111 §4.3.2)",
			hdr("If-Modified-Since", before), hdr("Date", lm), false},
		{"invalid If-Modified-Since ignored (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", "yesterday"), hdr("Last-Modified", lm), false},
		{"If-Modified-Since with two members ignored (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", after, "If-Modified-Since", after), hdr("Last-Modified", lm), false},
		{"no conditions (RFC 9110 §13.2.2)",
			hdr(), hdr("ETag", `"a"`, "Last-Modified", lm), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NotModified(tt.req, tt.stored); got != tt.want {
				t.Errorf("NotModified(request %s, stored %s) = %v, want %v", show(tt.req), show(tt.stored), got, tt.want)
			}
		})
	}
}

func TestNotModifiedByOrigin(t *testing.T) {
	t.Parallel()
	lm := httpDate(t0)
	after := httpDate(t0.Add(time.Hour))
	tests := []struct {
		name string
		req  http.Header
		resp http.Header
		want bool
	}{
		{"If-None-Match matches the ETag (RFC 9110 §13.1.2)",
			hdr("If-None-Match", `"a"`), hdr("ETag", `"a"`), true},
		{"If-Modified-Since not before Last-Modified (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", after), hdr("Last-Modified", lm), true},
		// RFC 9110 §13.1.3: "A recipient MUST ignore the If-Modified-Since
		// header field if ... the resource does not have a modification date
		// available." Date stands in for stored responses only (RFC 9111
		// §4.3.2).
		{"If-Modified-Since ignored without Last-Modified (RFC 9110 §13.1.3)",
			hdr("If-Modified-Since", after), hdr("Date", lm), false},
	}
	for _, tt := range tests {
		if got := NotModifiedByOrigin(tt.req, tt.resp); got != tt.want {
			t.Errorf("%s: NotModifiedByOrigin(request %s, response %s) = %v, want %v",
				tt.name, show(tt.req), show(tt.resp), got, tt.want)
		}
	}
}

func TestNotModifiedHeader(t *testing.T) {
	t.Parallel()
	stored := hdr(
		"Cache-Control", "max-age=60",
		"Content-Location", "/a.en",
		"Date", httpDate(t0),
		"ETag", `"a"`,
		"Expires", httpDate(t0.Add(time.Minute)),
		"Last-Modified", httpDate(t0.Add(-time.Hour)),
		"Vary", "Accept-Language",
		"Vary", "Accept-Encoding",
		"Content-Type", "text/html",
		"Content-Length", "1000",
		"Content-Encoding", "gzip",
		"Set-Cookie", "a=1",
		"X-Custom", "1",
	)
	before := show(stored)
	// RFC 9110 §15.4.5: the fields a 200 would have sent among
	// Content-Location, Date, ETag, Vary, Cache-Control and Expires, and
	// Last-Modified to guide cache updates; no other representation metadata.
	want := hdr(
		"Cache-Control", "max-age=60",
		"Content-Location", "/a.en",
		"Date", httpDate(t0),
		"ETag", `"a"`,
		"Expires", httpDate(t0.Add(time.Minute)),
		"Last-Modified", httpDate(t0.Add(-time.Hour)),
		"Vary", "Accept-Language",
		"Vary", "Accept-Encoding",
	)
	if got := NotModifiedHeader(stored); show(got) != show(want) {
		t.Errorf("NotModifiedHeader(%s) = %s, want %s (RFC 9110 §15.4.5)", before, show(got), show(want))
	}
	if show(stored) != before {
		t.Errorf("NotModifiedHeader modified its input: %s, was %s", show(stored), before)
	}
	if got := NotModifiedHeader(hdr("Content-Type", "text/plain")); len(got) != 0 {
		t.Errorf("NotModifiedHeader(Content-Type: text/plain) = %s, want no fields (RFC 9110 §15.4.5)", show(got))
	}
}

func TestParseETag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   eTag
		wantOK bool
	}{
		{"strong (RFC 9110 §8.8.3)", `"abc"`, eTag{opaque: `"abc"`}, true},
		{"weak (RFC 9110 §8.8.3)", `W/"abc"`, eTag{weak: true, opaque: `"abc"`}, true},
		{"empty opaque tag (RFC 9110 §8.8.3)", `""`, eTag{opaque: `""`}, true},
		{"surrounding white space (RFC 9110 §5.5)", ` "abc" `, eTag{opaque: `"abc"`}, true},
		{"comma inside (RFC 9110 §8.8.3)", `"a,b"`, eTag{opaque: `"a,b"`}, true},
		{"unquoted (RFC 9110 §8.8.3)", `abc`, eTag{}, false},
		{"lower-case weakness flag (RFC 9110 §8.8.3)", `w/"abc"`, eTag{}, false},
		{"quote inside (RFC 9110 §8.8.3)", `"a"b"`, eTag{}, false},
		{"one quote (RFC 9110 §8.8.3)", `"`, eTag{}, false},
		{"empty", ``, eTag{}, false},
		{"W/ alone (RFC 9110 §8.8.3)", `W/`, eTag{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseETag(tt.in)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("parseETag(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// splitETagsTests is shared with FuzzSplitETags, which uses each input as a
// seed.
var splitETagsTests = []struct {
	name    string
	in      string
	want    []eTag
	wantAny bool
}{
	{"one strong tag (RFC 9110 §13.1.2)", `"a"`, []eTag{{opaque: `"a"`}}, false},
	{"list with white space (RFC 9110 §5.6.1)", ` "a" ,W/"b",  "c" `,
		[]eTag{{opaque: `"a"`}, {weak: true, opaque: `"b"`}, {opaque: `"c"`}}, false},
	{"empty list members (RFC 9110 §5.6.1)", `,"a",,"b",`, []eTag{{opaque: `"a"`}, {opaque: `"b"`}}, false},
	{"comma inside an opaque tag (RFC 9110 §8.8.3)", `"a,b", "c"`, []eTag{{opaque: `"a,b"`}, {opaque: `"c"`}}, false},
	{"star (RFC 9110 §13.1.2)", `*`, nil, true},
	{"malformed member skipped (RFC 9110 §13.1.2)", `abc, "d"`, []eTag{{opaque: `"d"`}}, false},
	{"unterminated tag dropped (RFC 9110 §8.8.3)", `"a", "b`, []eTag{{opaque: `"a"`}}, false},
	{"empty", ``, nil, false},
}

func TestSplitETags(t *testing.T) {
	t.Parallel()
	for _, tt := range splitETagsTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, any := splitETags(tt.in)
			if !slices.Equal(got, tt.want) || any != tt.wantAny {
				t.Errorf("splitETags(%q) = %+v, %v; want %+v, %v", tt.in, got, any, tt.want, tt.wantAny)
			}
		})
	}
}

func TestContainsToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list, token string
		want        bool
	}{
		{"no-cache", "no-cache", true},
		{"foo, No-Cache ", "no-cache", true},
		{"no-cache-x", "no-cache", false},
		{"", "no-cache", false},
	}
	for _, tt := range tests {
		if got := containsToken(tt.list, tt.token); got != tt.want {
			t.Errorf("containsToken(%q, %q) = %v, want %v", tt.list, tt.token, got, tt.want)
		}
	}
}
