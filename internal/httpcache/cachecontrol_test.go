package httpcache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

// delta is a present, valid delta-seconds argument.
func delta(seconds int64) Delta {
	return Delta{Present: true, Valid: true, Value: time.Duration(seconds) * time.Second}
}

// badDelta is a directive that is present with a missing or malformed
// argument.
var badDelta = Delta{Present: true}

// maxDelta is a valid argument too large to represent (RFC 9111 §1.2.2).
var maxDelta = Delta{Present: true, Valid: true, Value: MaxDelta}

// parseDirectivesTests is shared with FuzzParseDirectives, which uses each
// input as a seed.
var parseDirectivesTests = []struct {
	name string
	in   string
	want Directives
}{
	{"empty field value has no directives (RFC 9111 §5.2)", "", Directives{}},
	{"max-age delta-seconds (RFC 9111 §5.2.2.1)", "max-age=60", Directives{MaxAge: delta(60)}},
	{"s-maxage delta-seconds (RFC 9111 §5.2.2.10)", "s-maxage=30", Directives{SMaxAge: delta(30)}},
	{"directive names are case-insensitive (RFC 9111 §5.2)", "MaX-AgE=60, No-StOrE, PUBLIC",
		Directives{MaxAge: delta(60), NoStore: true, Public: true}},
	{"quoted-string argument accepted (RFC 9111 §5.2)", `max-age="10"`, Directives{MaxAge: delta(10)}},
	{"leading zeros are digits (RFC 9111 §1.2.2)", "max-age=003600", Directives{MaxAge: delta(3600)}},
	{"zero is a valid delta-seconds (RFC 9111 §1.2.2)", "max-age=0", Directives{MaxAge: delta(0)}},
	{"non-digit argument present but invalid (RFC 9111 §1.2.2)", "max-age=abc", Directives{MaxAge: badDelta}},
	{"negative argument present but invalid (RFC 9111 §1.2.2)", "max-age=-1", Directives{MaxAge: badDelta}},
	{"decimal argument present but invalid (RFC 9111 §1.2.2)", "max-age=3600.0", Directives{MaxAge: badDelta}},
	{"trailing letter present but invalid (RFC 9111 §1.2.2)", "max-age=3600a", Directives{MaxAge: badDelta}},
	{"empty argument present but invalid (RFC 9111 §1.2.2)", "max-age=", Directives{MaxAge: badDelta}},
	{"missing argument present but invalid (RFC 9111 §5.2.2.1)", "max-age", Directives{MaxAge: badDelta}},
	{"empty quoted argument present but invalid (RFC 9111 §1.2.2)", `max-age=""`, Directives{MaxAge: badDelta}},
	{"single quotes are not a quoted-string (RFC 9110 §5.6.4)", "max-age='3600'", Directives{MaxAge: badDelta}},
	{"2^31-1 is represented exactly (RFC 9111 §1.2.2)", "max-age=2147483647", Directives{MaxAge: delta(2147483647)}},
	{"2^31 is the largest value (RFC 9111 §1.2.2)", "max-age=2147483648", Directives{MaxAge: maxDelta}},
	{"overflow capped at 2^31 (RFC 9111 §1.2.2)", "max-age=99999999999999", Directives{MaxAge: maxDelta}},
	{"overflow past int64 capped at 2^31 (RFC 9111 §1.2.2)", "s-maxage=99999999999999999999999999",
		Directives{SMaxAge: maxDelta}},
	{"first max-age wins (RFC 9111 §4.2.1)", "max-age=1800, max-age=1", Directives{MaxAge: delta(1800)}},
	{"first max-age wins even when invalid (RFC 9111 §4.2.1)", "max-age=abc, max-age=10",
		Directives{MaxAge: badDelta}},
	{"first s-maxage wins (RFC 9111 §4.2.1)", "s-maxage=1, s-maxage=1800", Directives{SMaxAge: delta(1)}},
	{"unknown directives ignored (RFC 9111 §5.2.3)", "foo, bar=baz, max-age=5, qux=\"1, 2\"",
		Directives{MaxAge: delta(5)}},
	{"max-age inside a quoted extension is not a directive, before (RFC 9111 §5.2.3)",
		`extension="max-age=3600", max-age=1`, Directives{MaxAge: delta(1)}},
	{"max-age inside a quoted extension is not a directive, after (RFC 9111 §5.2.3)",
		`max-age=1, extension="max-age=3600"`, Directives{MaxAge: delta(1)}},
	{"escaped quote does not end a quoted-string (RFC 9110 §5.6.4)", `foo="a\", no-store", max-age=5`,
		Directives{MaxAge: delta(5)}},
	{"optional white space around members (RFC 9110 §5.6.1)", " max-age=5 ,\tno-store\t, public ",
		Directives{MaxAge: delta(5), NoStore: true, Public: true}},
	{"empty list members ignored (RFC 9110 §5.6.1)", ",, ,max-age=5,,", Directives{MaxAge: delta(5)}},
	{"unqualified no-cache (RFC 9111 §5.2.2.4)", "no-cache", Directives{NoCache: true}},
	{"qualified no-cache, quoted list with a comma (RFC 9111 §5.2.2.4)", `no-cache="Set-Cookie, X-Foo"`,
		Directives{NoCache: true, NoCacheFields: []string{"set-cookie", "x-foo"}}},
	{"comma inside qualified no-cache starts no directive (RFC 9111 §5.2.2.4)", `no-cache="a, no-store"`,
		Directives{NoCache: true, NoCacheFields: []string{"a", "no-store"}}},
	{"qualified no-cache as a token (RFC 9111 §5.2.2.4)", "no-cache=Set-Cookie",
		Directives{NoCache: true, NoCacheFields: []string{"set-cookie"}}},
	{"unqualified private (RFC 9111 §5.2.2.7)", "private", Directives{Private: true}},
	{"qualified private (RFC 9111 §5.2.2.7)", `private="x"`,
		Directives{Private: true, PrivateFields: []string{"x"}}},
	{"unqualified private after a qualified one covers the response (RFC 9111 §4.2.1, §5.2.2.7)",
		`max-age=300, private="X-A", private`, Directives{MaxAge: delta(300), Private: true}},
	{"unqualified private before a qualified one covers the response (RFC 9111 §4.2.1, §5.2.2.7)",
		`private, private="X-A"`, Directives{Private: true}},
	{"names of qualified privates add up (RFC 9111 §4.2.1, §5.2.2.7)", `private="X-A", private="Set-Cookie"`,
		Directives{Private: true, PrivateFields: []string{"x-a", "set-cookie"}}},
	{"unqualified no-cache after a qualified one covers the response (RFC 9111 §4.2.1, §5.2.2.4)",
		`max-age=300, no-cache="Set-Cookie", no-cache`, Directives{MaxAge: delta(300), NoCache: true}},
	{"names of qualified no-caches add up (RFC 9111 §4.2.1, §5.2.2.4)", `no-cache=a, no-cache="b, c"`,
		Directives{NoCache: true, NoCacheFields: []string{"a", "b", "c"}}},
	{"qualified private with several names (RFC 9111 §5.2.2.7)", `private="Set-Cookie, Authorization", max-age=9`,
		Directives{Private: true, PrivateFields: []string{"set-cookie", "authorization"}, MaxAge: delta(9)}},
	{"max-stale without value means any staleness (RFC 9111 §5.2.1.2)", "max-stale",
		Directives{MaxStale: maxDelta}},
	{"max-stale with value (RFC 9111 §5.2.1.2)", "max-stale=30", Directives{MaxStale: delta(30)}},
	{"max-stale with invalid value (RFC 9111 §5.2.1.2)", "max-stale=abc", Directives{MaxStale: badDelta}},
	{"min-fresh (RFC 9111 §5.2.1.3)", "min-fresh=20", Directives{MinFresh: delta(20)}},
	{"stale-while-revalidate (RFC 5861 §3)", "stale-while-revalidate=15", Directives{StaleWhileRevalidate: delta(15)}},
	{"stale-if-error (RFC 5861 §4)", "stale-if-error=600", Directives{StaleIfError: delta(600)}},
	{"response flags (RFC 9111 §5.2.2)", "public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable",
		Directives{Public: true, MustRevalidate: true, ProxyRevalidate: true, MustUnderstand: true, NoTransform: true, Immutable: true}},
	{"request flags (RFC 9111 §5.2.1)", "no-store, only-if-cached, no-transform",
		Directives{NoStore: true, OnlyIfCached: true, NoTransform: true}},
	{"unterminated quoted-string swallows the rest (RFC 9110 §5.6.4)", `no-cache="a, no-store`,
		Directives{NoCache: true, NoCacheFields: []string{"a", "no-store"}}},
}

func TestParseDirectives(t *testing.T) {
	t.Parallel()
	for _, tt := range parseDirectivesTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ParseDirectives(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDirectives(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCacheControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want Directives
	}{
		{"no field (RFC 9111 §5.2)", hdr(), Directives{}},
		{"field lines combine (RFC 9110 §5.3)", hdr("Cache-Control", "no-store", "Cache-Control", "max-age=5"),
			Directives{NoStore: true, MaxAge: delta(5)}},
		{"first max-age wins across lines (RFC 9111 §4.2.1)",
			hdr("Cache-Control", "max-age=1800", "Cache-Control", "max-age=1"), Directives{MaxAge: delta(1800)}},
		{"first s-maxage wins across lines (RFC 9111 §4.2.1)",
			hdr("Cache-Control", "s-maxage=1", "Cache-Control", "max-age=60, s-maxage=1800"),
			Directives{SMaxAge: delta(1), MaxAge: delta(60)}},
		{"quoted-string does not continue onto the next line (RFC 9110 §5.3)",
			hdr("Cache-Control", `no-cache="a`, "Cache-Control", "no-store"),
			Directives{NoCache: true, NoCacheFields: []string{"a"}, NoStore: true}},
		{"unqualified no-cache on a later line covers the response (RFC 9111 §4.2.1, §5.2.2.4)",
			hdr("Cache-Control", `max-age=300, no-cache="Set-Cookie"`, "Cache-Control", "no-cache"),
			Directives{MaxAge: delta(300), NoCache: true}},
		{"unqualified private on a later line covers the response (RFC 9111 §4.2.1, §5.2.2.7)",
			hdr("Cache-Control", `private="Set-Cookie"`, "Cache-Control", "max-age=60, private"),
			Directives{MaxAge: delta(60), Private: true}},
		{"other fields ignored", hdr("Pragma", "no-cache", "Expires", "0"), Directives{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ParseCacheControl(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCacheControl(%s) = %+v, want %+v", show(tt.in), got, tt.want)
			}
		})
	}
}

func BenchmarkParseDirectives(b *testing.B) {
	const v = `public, max-age=3600, s-maxage=600, stale-while-revalidate=30, no-cache="Set-Cookie, X-User"`
	b.ReportAllocs()
	for b.Loop() {
		ParseDirectives(v)
	}
}
