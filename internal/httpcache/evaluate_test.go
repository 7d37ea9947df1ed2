package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	policy := Policy{HeuristicMax: 24 * time.Hour}
	date := httpDate(t0)
	tests := []struct {
		name string
		req  http.Header
		// The stored 200 was requested and received at t0 with Date t0;
		// elapsed is how long ago that was.
		stored     http.Header
		elapsed    time.Duration
		wantAction Action
		wantReason Reason
	}{
		{"fresh response served (RFC 9111 §4.2)",
			hdr(), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Serve, ReasonFresh},
		{"stale response validated (RFC 9111 §4.2)",
			hdr(), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Validate, ReasonStale},
		{"age equal to the lifetime is stale (RFC 9111 §4.2)",
			hdr(), hdr("Cache-Control", "max-age=60"), 60 * time.Second, Validate, ReasonStale},
		{"max-age=0 is stale at once (RFC 9111 §4.2)",
			hdr(), hdr("Cache-Control", "max-age=0"), 0, Validate, ReasonStale},
		{"Age counts towards the current age (RFC 9111 §4.2.3)",
			hdr(), hdr("Cache-Control", "max-age=60", "Age", "50"), 20 * time.Second, Validate, ReasonStale},
		{"first of several Age lines used (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "0", "Age", "7200"), 0, Serve, ReasonFresh},
		// RFC 9111 §5.1: a cache "SHOULD use the first member of the
		// field value, discarding subsequent ones. If the field value
		// (after discarding additional members ...) is invalid ..., a
		// cache SHOULD ignore the field."
		{"non-numeric Age is ignored (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "abc"), 0, Serve, ReasonFresh},
		{"negative Age is ignored (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "-7200"), 0, Serve, ReasonFresh},
		{"decimal Age is ignored (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "7200.0"), 0, Serve, ReasonFresh},
		{"Age with a parameter is ignored (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "7200;foo=bar"), 0, Serve, ReasonFresh},
		{"list-based Age: the first member counts, old (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "7200, 0"), 0, Validate, ReasonStale},
		{"list-based Age: the first member counts, 0 (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "0, 7200"), 0, Serve, ReasonFresh},
		{"several Age lines: the first counts (RFC 9111 §5.1)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "7200", "Age", "0"), 0, Validate, ReasonStale},
		{"Age of 2^31 makes the response stale (RFC 9111 §1.2.2)",
			hdr(), hdr("Cache-Control", "max-age=3600", "Age", "2147483648"), 0, Validate, ReasonStale},
		{"future Expires served (RFC 9111 §5.3)",
			hdr(), hdr("Expires", httpDate(t0.Add(time.Hour))), 30 * time.Second, Serve, ReasonFresh},
		{"heuristically fresh response served (RFC 9111 §4.2.2)",
			hdr(), hdr("Last-Modified", httpDate(t0.Add(-100*time.Hour))), time.Hour, Serve, ReasonFresh},
		{"response no-cache validated even when fresh (RFC 9111 §5.2.2.4)",
			hdr(), hdr("Cache-Control", "max-age=60, no-cache"), 0, Validate, ReasonNoCache},
		{"response No-CaChE validated even when fresh (RFC 9111 §5.2)",
			hdr(), hdr("Cache-Control", "max-age=60, No-CaChE"), 0, Validate, ReasonNoCache},
		{"qualified no-cache served without validation (RFC 9111 §5.2.2.4)",
			hdr(), hdr("Cache-Control", `max-age=60, no-cache="Set-Cookie"`), 0, Serve, ReasonFresh},
		{"request no-cache validated (RFC 9111 §5.2.1.4)",
			hdr("Cache-Control", "no-cache"), hdr("Cache-Control", "max-age=60"), 0, Validate, ReasonRequestNoCache},
		{"request Pragma: no-cache without Cache-Control validated (RFC 7234 §5.4)",
			hdr("Pragma", "no-cache"), hdr("Cache-Control", "max-age=60"), 0, Validate, ReasonRequestNoCache},
		{"request Pragma: no-cache in a list validated (RFC 7234 §5.4)",
			hdr("Pragma", "foo, No-Cache"), hdr("Cache-Control", "max-age=60"), 0, Validate, ReasonRequestNoCache},
		{"request Pragma: no-cache ignored with Cache-Control (RFC 7234 §5.4)",
			hdr("Pragma", "no-cache", "Cache-Control", "max-age=3600"), hdr("Cache-Control", "max-age=60"), 0, Serve, ReasonFresh},
		{"request Pragma extension ignored (RFC 7234 §5.4)",
			hdr("Pragma", "unrecognised-extension"), hdr("Cache-Control", "max-age=60"), 0, Serve, ReasonFresh},
		{"response Pragma: no-cache has no defined meaning (RFC 9111 §5.4)",
			hdr(), hdr("Cache-Control", "max-age=60", "Pragma", "no-cache"), 0, Serve, ReasonFresh},
		{"request max-age younger than the age validated (RFC 9111 §5.2.1.1)",
			hdr("Cache-Control", "max-age=10"), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Validate, ReasonRequestMaxAge},
		{"request max-age=0 validated once the response has any age (RFC 9111 §5.2.1.1)",
			hdr("Cache-Control", "max-age=0"), hdr("Cache-Control", "max-age=60"), time.Second, Validate, ReasonRequestMaxAge},
		{"request max-age equal to the age served (RFC 9111 §5.2.1.1)",
			hdr("Cache-Control", "max-age=30"), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Serve, ReasonFresh},
		{"invalid request max-age ignored (RFC 9111 §5.2.1.1)",
			hdr("Cache-Control", "max-age=abc"), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Serve, ReasonFresh},
		{"request min-fresh not met validated (RFC 9111 §5.2.1.3)",
			hdr("Cache-Control", "min-fresh=40"), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Validate, ReasonRequestMinFresh},
		{"request min-fresh met exactly served (RFC 9111 §5.2.1.3)",
			hdr("Cache-Control", "min-fresh=30"), hdr("Cache-Control", "max-age=60"), 30 * time.Second, Serve, ReasonFresh},
		{"request max-stale with value within it served (RFC 9111 §5.2.1.2)",
			hdr("Cache-Control", "max-stale=60"), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Serve, ReasonMaxStale},
		{"request max-stale with value at its limit served (RFC 9111 §5.2.1.2)",
			hdr("Cache-Control", "max-stale=30"), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Serve, ReasonMaxStale},
		{"request max-stale with value exceeded validated (RFC 9111 §5.2.1.2)",
			hdr("Cache-Control", "max-stale=10"), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Validate, ReasonStale},
		{"request max-stale without value accepts any staleness (RFC 9111 §5.2.1.2)",
			hdr("Cache-Control", "max-stale"), hdr("Cache-Control", "max-age=60"), 1000 * time.Hour, Serve, ReasonMaxStale},
		{"request max-stale with invalid value not honoured (RFC 9111 §5.2.1.2)",
			hdr("Cache-Control", "max-stale=abc"), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Validate, ReasonStale},
		{"request max-stale within request max-age still limited by it (RFC 9111 §5.2.1.1)",
			hdr("Cache-Control", "max-stale, max-age=70"), hdr("Cache-Control", "max-age=60"), 90 * time.Second, Validate, ReasonStale},
		{"max-stale refused with must-revalidate (RFC 9111 §5.2.2.2)",
			hdr("Cache-Control", "max-stale"), hdr("Cache-Control", "max-age=60, must-revalidate"), 90 * time.Second, Validate, ReasonStale},
		{"max-stale refused with proxy-revalidate (RFC 9111 §5.2.2.8)",
			hdr("Cache-Control", "max-stale"), hdr("Cache-Control", "max-age=60, proxy-revalidate"), 90 * time.Second, Validate, ReasonStale},
		{"max-stale refused with s-maxage (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "max-stale"), hdr("Cache-Control", "s-maxage=60"), 90 * time.Second, Validate, ReasonStale},
		{"fresh response with must-revalidate served (RFC 9111 §5.2.2.2)",
			hdr(), hdr("Cache-Control", "max-age=60, must-revalidate"), 30 * time.Second, Serve, ReasonFresh},
		{"stale immutable response validated (RFC 8246 §2)",
			hdr(), hdr("Cache-Control", "max-age=60, immutable"), 90 * time.Second, Validate, ReasonStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stored := tt.stored.Clone()
			stored.Set("Date", date)
			s := Stored{Status: 200, Header: stored, CC: ParseCacheControl(stored), RequestTime: t0, ResponseTime: t0}
			d := Evaluate(tt.req, ParseCacheControl(tt.req), s, t0.Add(tt.elapsed), policy)
			if d.Action != tt.wantAction || d.Reason != tt.wantReason {
				t.Errorf("Evaluate(request %s, stored %s, %v later) = %v, %q; want %v, %q",
					show(tt.req), show(tt.stored), tt.elapsed, d.Action, d.Reason, tt.wantAction, tt.wantReason)
			}
		})
	}
}

func TestEvaluateDecision(t *testing.T) {
	t.Parallel()
	stored := hdr("Cache-Control", "max-age=60", "Date", httpDate(t0.Add(-5*time.Second)), "Age", "3")
	s := Stored{Status: 200, Header: stored, CC: ParseCacheControl(stored), RequestTime: t0.Add(-time.Second), ResponseTime: t0}
	d := Evaluate(hdr(), Directives{}, s, t0.Add(10*time.Second), Policy{})
	// apparent age 5s; corrected Age 3s + 1s delay; resident 10s (RFC 9111 §4.2.3).
	want := Decision{Action: Serve, Reason: ReasonFresh, Lifetime: Lifetime{Duration: time.Minute}, Age: 15 * time.Second}
	if d != want {
		t.Errorf("Evaluate(%s, 10s after receipt) = %+v, want %+v", show(stored), d, want)
	}
	if got := d.TTL(); got != 45*time.Second {
		t.Errorf("Decision%+v.TTL() = %v, want 45s", d, got)
	}
	later := Evaluate(hdr(), Directives{}, s, t0.Add(100*time.Second), Policy{})
	if !later.Stale || later.TTL() != -45*time.Second {
		t.Errorf("Evaluate(%s, 100s after receipt) = Stale %v, TTL %v; want Stale true, TTL -45s", show(stored), later.Stale, later.TTL())
	}
}

func TestActionString(t *testing.T) {
	t.Parallel()
	for a, want := range map[Action]string{Serve: "serve", Validate: "validate"} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}

func TestRequestNoCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
		want bool
	}{
		{"Cache-Control: no-cache (RFC 9111 §5.2.1.4)", hdr("Cache-Control", "no-cache"), true},
		{"Pragma: no-cache without Cache-Control (RFC 7234 §5.4)", hdr("Pragma", "no-cache"), true},
		{"Pragma: no-cache with Cache-Control ignored (RFC 7234 §5.4)", hdr("Pragma", "no-cache", "Cache-Control", "max-stale"), false},
		{"Pragma on a second line (RFC 9110 §5.3)", hdr("Pragma", "x", "Pragma", "no-cache"), true},
		{"Pragma: no-cache-please is another token (RFC 7234 §5.4)", hdr("Pragma", "no-cache-please"), false},
		{"nothing", hdr(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := RequestNoCache(tt.h, ParseCacheControl(tt.h)); got != tt.want {
				t.Errorf("RequestNoCache(%s) = %v, want %v", show(tt.h), got, tt.want)
			}
		})
	}
}

func TestStaleForbidden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cc   string
		want bool
	}{
		{"must-revalidate (RFC 9111 §5.2.2.2)", "must-revalidate", true},
		{"proxy-revalidate (RFC 9111 §5.2.2.8)", "proxy-revalidate", true},
		{"s-maxage (RFC 9111 §5.2.2.10)", "s-maxage=10", true},
		{"max-age alone (RFC 9111 §4.2.4)", "max-age=10", false},
		{"immutable alone (RFC 8246 §2)", "immutable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := StaleForbidden(ParseDirectives(tt.cc)); got != tt.want {
				t.Errorf("StaleForbidden(%s) = %v, want %v", tt.cc, got, tt.want)
			}
		})
	}
}

// BenchmarkEvaluate measures the decision on the hit path: a fresh stored
// response and a plain request.
func BenchmarkEvaluate(b *testing.B) {
	stored := hdr("Cache-Control", "public, max-age=3600", "Date", httpDate(t0), "ETag", `"a"`, "Age", "10")
	s := Stored{Status: 200, Header: stored, CC: ParseCacheControl(stored), RequestTime: t0, ResponseTime: t0}
	req := hdr("Accept", "*/*")
	reqCC := ParseCacheControl(req)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req, reqCC, s, now, Policy{HeuristicMax: time.Hour})
	}
}
