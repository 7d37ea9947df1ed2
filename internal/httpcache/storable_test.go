package httpcache

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	auth := hdr("Authorization", "Basic Zm9vOmJhcg==")
	tests := []struct {
		name       string
		method     string
		req        http.Header
		status     int
		resp       http.Header
		wantOK     bool
		wantReason Reason
	}{
		{"GET 200 with max-age stored (RFC 9111 §3)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60"), true, ReasonNone},
		{"GET 200 without freshness stored: heuristically cacheable (RFC 9111 §3)",
			"GET", hdr(), 200, hdr(), true, ReasonNone},
		{"404 without freshness stored: heuristically cacheable (RFC 9111 §3)",
			"GET", hdr(), 404, hdr(), true, ReasonNone},
		{"POST not stored (RFC 9111 §3)",
			"POST", hdr(), 200, hdr("Cache-Control", "max-age=60"), false, ReasonMethod},
		{"HEAD not stored: a HEAD is answered from a stored GET (RFC 9111 §3)",
			"HEAD", hdr(), 200, hdr("Cache-Control", "max-age=60"), false, ReasonMethod},
		{"unknown method not stored (RFC 9111 §3)",
			"PURGE", hdr(), 200, hdr("Cache-Control", "max-age=60"), false, ReasonMethod},
		{"100 is not a final response (RFC 9111 §3)",
			"GET", hdr(), 100, hdr("Cache-Control", "max-age=60"), false, ReasonStatus},
		{"103 is not a final response (RFC 9111 §3)",
			"GET", hdr(), 103, hdr("Cache-Control", "max-age=60"), false, ReasonStatus},
		{"206 not stored on its own (RFC 9111 §3.3)",
			"GET", hdr(), 206, hdr("Cache-Control", "max-age=60"), false, ReasonStatus},
		{"304 not stored on its own (RFC 9111 §4.3.4)",
			"GET", hdr(), 304, hdr("Cache-Control", "max-age=60"), false, ReasonStatus},
		{"302 without explicit freshness not stored (RFC 9111 §3)",
			"GET", hdr(), 302, hdr(), false, ReasonStatus},
		{"302 with max-age stored (RFC 9111 §3)",
			"GET", hdr(), 302, hdr("Cache-Control", "max-age=60"), true, ReasonNone},
		{"302 with s-maxage stored (RFC 9111 §3)",
			"GET", hdr(), 302, hdr("Cache-Control", "s-maxage=60"), true, ReasonNone},
		{"302 with Expires stored (RFC 9111 §3)",
			"GET", hdr(), 302, hdr("Expires", httpDate(t0.Add(time.Hour))), true, ReasonNone},
		{"302 with public stored (RFC 9111 §3)",
			"GET", hdr(), 302, hdr("Cache-Control", "public"), true, ReasonNone},
		{"500 without explicit freshness not stored (RFC 9111 §3)",
			"GET", hdr(), 500, hdr(), false, ReasonStatus},
		{"500 with max-age stored (RFC 9111 §3)",
			"GET", hdr(), 500, hdr("Cache-Control", "max-age=5"), true, ReasonNone},
		{"response no-store (RFC 9111 §5.2.2.5)",
			"GET", hdr(), 200, hdr("Cache-Control", "no-store"), false, ReasonNoStore},
		{"response no-store in any case (RFC 9111 §5.2)",
			"GET", hdr(), 200, hdr("Cache-Control", "nO-StOrE"), false, ReasonNoStore},
		{"response no-store even with max-age and Expires (RFC 9111 §5.2.2.5)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60, no-store", "Expires", httpDate(t0.Add(time.Hour))),
			false, ReasonNoStore},
		{"must-understand with an understood status beats no-store (RFC 9111 §5.2.2.3)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60, must-understand, no-store"), true, ReasonNone},
		{"must-understand with an understood 451 beats no-store (RFC 9111 §5.2.2.3)",
			"GET", hdr(), 451, hdr("Cache-Control", "max-age=60, must-understand, no-store"), true, ReasonNone},
		{"must-understand with an unknown status not stored (RFC 9111 §5.2.2.3)",
			"GET", hdr(), 299, hdr("Cache-Control", "max-age=60, must-understand, no-store"), false, ReasonMustUnderstand},
		{"must-understand with an unknown status not stored, even without no-store (RFC 9111 §5.2.2.3)",
			"GET", hdr(), 299, hdr("Cache-Control", "max-age=60, must-understand"), false, ReasonMustUnderstand},
		{"unknown status with max-age stored (RFC 9111 §3)",
			"GET", hdr(), 299, hdr("Cache-Control", "max-age=60"), true, ReasonNone},
		{"request no-store (RFC 9111 §5.2.1.5)",
			"GET", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), false, ReasonRequestNoStore},
		{"unqualified private not stored by a shared cache (RFC 9111 §5.2.2.7)",
			"GET", hdr(), 200, hdr("Cache-Control", "private, max-age=60"), false, ReasonPrivate},
		{"qualified private stored without the named fields (RFC 9111 §5.2.2.7)",
			"GET", hdr(), 200, hdr("Cache-Control", `private="Set-Cookie", max-age=60`), true, ReasonNone},
		{"Authorization without permission not stored (RFC 9111 §3.5)",
			"GET", auth, 200, hdr("Cache-Control", "max-age=60"), false, ReasonAuthorization},
		{"Authorization with public stored (RFC 9111 §3.5)",
			"GET", auth, 200, hdr("Cache-Control", "public, max-age=60"), true, ReasonNone},
		{"Authorization with s-maxage stored (RFC 9111 §3.5)",
			"GET", auth, 200, hdr("Cache-Control", "s-maxage=60"), true, ReasonNone},
		{"Authorization with must-revalidate stored (RFC 9111 §3.5)",
			"GET", auth, 200, hdr("Cache-Control", "max-age=60, must-revalidate"), true, ReasonNone},
		{"Vary: * never matches (RFC 9111 §4.1)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60", "Vary", "*"), false, ReasonVaryStar},
		{"Vary: Accept, * never matches (RFC 9111 §4.1)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept, *"), false, ReasonVaryStar},
		{"Vary: * on a second line never matches (RFC 9111 §4.1)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60", "Vary", "", "Vary", "*"), false, ReasonVaryStar},
		{"Vary naming fields stored (RFC 9111 §4.1)",
			"GET", hdr(), 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"), true, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := Exchange{
				Method: tt.method, ReqHeader: tt.req, ReqCC: ParseCacheControl(tt.req),
				Status: tt.status, RespHeader: tt.resp, RespCC: ParseCacheControl(tt.resp),
			}
			ok, why := Storable(x)
			if ok != tt.wantOK || why != tt.wantReason {
				t.Errorf("Storable(%s %d, request %s, response %s) = %v, %q; want %v, %q",
					tt.method, tt.status, show(tt.req), show(tt.resp), ok, why, tt.wantOK, tt.wantReason)
			}
		})
	}
}

func TestReusable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		h        http.Header
		lifetime Lifetime
		want     bool
	}{
		{"positive lifetime (RFC 9111 §4.2)", hdr(), Lifetime{Duration: time.Second}, true},
		{"ETag can be validated (RFC 9111 §4.3.1)", hdr("ETag", `"a"`), Lifetime{}, true},
		{"Last-Modified can be validated (RFC 9111 §4.3.1)", hdr("Last-Modified", httpDate(t0)), Lifetime{}, true},
		{"stale-if-error allows stale use (RFC 5861 §4)", hdr("Cache-Control", "stale-if-error=60"), Lifetime{}, true},
		{"stale-if-error=0 allows nothing (RFC 5861 §4)", hdr("Cache-Control", "stale-if-error=0"), Lifetime{}, false},
		{"invalid stale-if-error allows nothing (RFC 5861 §4)", hdr("Cache-Control", "stale-if-error=x"), Lifetime{}, false},
		{"no lifetime, validator or allowance", hdr("Cache-Control", "max-age=0"), Lifetime{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Reusable(tt.h, ParseCacheControl(tt.h), tt.lifetime); got != tt.want {
				t.Errorf("Reusable(%s, %+v) = %v, want %v", show(tt.h), tt.lifetime, got, tt.want)
			}
		})
	}
}

func TestStoredHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"fields named by a qualified private not stored (RFC 9111 §5.2.2.7)",
			hdr("Cache-Control", `private="Set-Cookie, x-user"`, "Set-Cookie", "a=1", "Set-Cookie", "b=2",
				"X-User", "bob", "Content-Type", "text/plain"),
			hdr("Cache-Control", `private="Set-Cookie, x-user"`, "Content-Type", "text/plain")},
		{"connection-specific fields not stored (RFC 9111 §3.1)",
			hdr("Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "Transfer-Encoding", "chunked",
				"Proxy-Authenticate", "Basic", "ETag", `"a"`),
			hdr("ETag", `"a"`)},
		{"Set-Cookie not stored: one client's cookie is never another's (unsharedFields)",
			hdr("Cache-Control", "max-age=300", "Set-Cookie", "session=1", "Set-Cookie", "theme=dark", "ETag", `"a"`),
			hdr("Cache-Control", "max-age=300", "ETag", `"a"`)},
		{"unrecognised fields stored (RFC 9111 §3.1)",
			hdr("X-Unknown", "1", "X-Unknown", "2"),
			hdr("X-Unknown", "1", "X-Unknown", "2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := show(tt.in)
			got := StoredHeader(tt.in, ParseCacheControl(tt.in))
			if show(got) != show(tt.want) {
				t.Errorf("StoredHeader(%s) = %s, want %s", before, show(got), show(tt.want))
			}
			if show(tt.in) != before {
				t.Errorf("StoredHeader modified its input: %s, was %s", show(tt.in), before)
			}
			// The result shares no maps or slices with the input.
			for k, vs := range got {
				for i := range vs {
					vs[i] = "changed"
				}
				got[k] = append(vs, "added")
			}
			if show(tt.in) != before {
				t.Errorf("StoredHeader result shares storage with its input: input became %s, was %s", show(tt.in), before)
			}
		})
	}
}

func TestStorableVaryTooMany(t *testing.T) {
	t.Parallel()
	h := http.Header{"Cache-Control": {"max-age=60"}}
	for i := range MaxVaryNames + 1 {
		h.Add("Vary", fmt.Sprintf("X-Field-%d", i))
	}
	x := Exchange{Method: http.MethodGet, ReqHeader: http.Header{}, Status: 200, RespHeader: h, RespCC: ParseCacheControl(h)}
	if ok, why := Storable(x); ok || why != ReasonVaryTooMany {
		t.Errorf("Storable(Vary with %d fields) = %v, %q; want false, %q", MaxVaryNames+1, ok, why, ReasonVaryTooMany)
	}
	h.Del("Vary")
	h.Set("Vary", "Accept-Encoding, Accept-Language")
	x.RespHeader = h
	if ok, _ := Storable(x); !ok {
		t.Errorf("Storable(Vary with 2 fields) = false, want true")
	}
}
