package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshnessLifetime(t *testing.T) {
	t.Parallel()
	const heuristicMax = 24 * time.Hour
	date := httpDate(t0)
	inAnHour := httpDate(t0.Add(time.Hour))
	anHourAgo := httpDate(t0.Add(-time.Hour))
	explicit := func(d time.Duration) Lifetime { return Lifetime{Duration: d} }
	heuristic := func(d time.Duration) Lifetime { return Lifetime{Duration: d, Heuristic: true} }
	tests := []struct {
		name   string
		h      http.Header
		status int
		// response time as an offset from t0
		response time.Duration
		want     Lifetime
	}{
		{"s-maxage beats max-age (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "max-age=60, s-maxage=30"), 200, 0, explicit(30 * time.Second)},
		{"s-maxage beats max-age, either order (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "s-maxage=120, max-age=60"), 200, 0, explicit(120 * time.Second)},
		{"s-maxage beats max-age on separate lines (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "max-age=3600", "Cache-Control", "s-maxage=1"), 200, 0, explicit(time.Second)},
		{"s-maxage=0 beats max-age (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "s-maxage=0, max-age=3600"), 200, 0, explicit(0)},
		{"max-age (RFC 9111 §5.2.2.1)",
			hdr("Cache-Control", "max-age=60", "Date", date), 200, 0, explicit(time.Minute)},
		{"max-age beats a past Expires (RFC 9111 §5.3)",
			hdr("Cache-Control", "max-age=60", "Date", date, "Expires", anHourAgo), 200, 0, explicit(time.Minute)},
		{"max-age beats an invalid Expires (RFC 9111 §5.3)",
			hdr("Cache-Control", "max-age=60", "Expires", "0"), 200, 0, explicit(time.Minute)},
		{"max-age=0 beats a future Expires (RFC 9111 §5.3)",
			hdr("Cache-Control", "max-age=0", "Date", date, "Expires", inAnHour), 200, 0, explicit(0)},
		{"max-age capped at 2^31 s (RFC 9111 §1.2.2)",
			hdr("Cache-Control", "max-age=99999999999"), 200, 0, explicit(MaxDelta)},
		{"invalid max-age makes the response stale (RFC 9111 §4.2.1)",
			hdr("Cache-Control", "max-age=abc", "Last-Modified", anHourAgo, "Date", date), 200, 0, explicit(0)},
		{"negative max-age makes the response stale (RFC 9111 §4.2.1)",
			hdr("Cache-Control", "max-age=-1"), 200, 0, explicit(0)},
		{"Expires minus Date (RFC 9111 §4.2.1)",
			hdr("Date", date, "Expires", inAnHour), 200, 0, explicit(time.Hour)},
		{"a far-off Expires is capped as delta-seconds are (RFC 9111 §1.2.2, §4.2.1)",
			hdr("Date", date, "Expires", "Fri, 31 Dec 9999 23:59:59 GMT"), 200, 0, explicit(MaxDelta)},
		{"Expires in RFC 850 format (RFC 9110 §5.6.7)",
			hdr("Date", date, "Expires", "Thursday, 18-Aug-50 03:01:18 GMT"), 200, 0, explicit(time.Hour)},
		{"Expires in asctime format (RFC 9110 §5.6.7)",
			hdr("Date", date, "Expires", "Thu Aug 18 03:01:18 2050"), 200, 0, explicit(time.Hour)},
		{"Expires equal to Date is stale (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", date), 200, 0, explicit(0)},
		{"Expires before Date is stale (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", anHourAgo), 200, 0, explicit(0)},
		{"Expires: 0 means already expired (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", "0"), 200, 0, explicit(0)},
		{"Expires: -1 means already expired (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", "-1", "Last-Modified", anHourAgo), 200, 0, explicit(0)},
		{"Expires with UTC means already expired (RFC 9111 §4.2)",
			hdr("Date", date, "Expires", "Thu, 18 Aug 2050 03:01:18 UTC"), 200, 0, explicit(0)},
		// RFC 9111 §4.2: "a cache recipient SHOULD match the field value
		// case-insensitively" when calculating freshness.
		{"Expires with gMT matched case-insensitively (RFC 9111 §4.2)",
			hdr("Date", date, "Expires", "Thu, 18 Aug 2050 03:01:18 gMT"), 200, 0, explicit(time.Hour)},
		{"several Expires lines are invalid (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", inAnHour, "Expires", inAnHour), 200, 0, explicit(0)},
		{"Expires without Date uses the response time (RFC 9110 §6.6.1)",
			hdr("Expires", inAnHour), 200, 10 * time.Minute, explicit(50 * time.Minute)},
		{"Expires with an invalid Date uses the response time (RFC 9110 §6.6.1)",
			hdr("Date", "yesterday", "Expires", inAnHour), 200, 0, explicit(time.Hour)},
		{"Expires present: no heuristic (RFC 9111 §4.2.2)",
			hdr("Date", date, "Expires", anHourAgo, "Last-Modified", httpDate(t0.Add(-100*time.Hour))), 200, 0, explicit(0)},
		{"heuristic is 10% of Date minus Last-Modified (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 200, 0, heuristic(time.Hour)},
		{"heuristic capped at heuristicMax (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-1000*time.Hour))), 200, 0, heuristic(heuristicMax)},
		{"heuristic without Date uses the response time (RFC 9111 §4.2.2)",
			hdr("Last-Modified", httpDate(t0.Add(-10*time.Hour))), 404, 10 * time.Hour, heuristic(2 * time.Hour)},
		{"heuristic for a heuristically cacheable status: 410 (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 410, 0, heuristic(time.Hour)},
		{"no heuristic for 302 (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 302, 0, explicit(0)},
		{"no heuristic for 500 (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 500, 0, explicit(0)},
		{"public allows a heuristic for any status (RFC 9111 §4.2.2)",
			hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 302, 0, heuristic(time.Hour)},
		{"Last-Modified in the future gives no heuristic lifetime (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", inAnHour), 200, 0, heuristic(0)},
		{"Last-Modified equal to Date gives no heuristic lifetime (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", date), 200, 0, heuristic(0)},
		{"no Last-Modified gives no heuristic lifetime (RFC 9111 §4.2.2)",
			hdr("Date", date), 200, 0, heuristic(0)},
		{"invalid Last-Modified gives no heuristic lifetime (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", "last week"), 200, 0, heuristic(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := ParseCacheControl(tt.h)
			got := FreshnessLifetime(tt.h, cc, tt.status, t0.Add(tt.response), heuristicMax)
			if got != tt.want {
				t.Errorf("FreshnessLifetime(%d, %s) = %+v, want %+v", tt.status, show(tt.h), got, tt.want)
			}
		})
	}
}

func TestHasExplicitFreshness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
		want bool
	}{
		{"max-age (RFC 9111 §4.2.1)", hdr("Cache-Control", "max-age=0"), true},
		{"s-maxage (RFC 9111 §4.2.1)", hdr("Cache-Control", "s-maxage=10"), true},
		{"Expires, even invalid (RFC 9111 §5.3)", hdr("Expires", "0"), true},
		{"invalid max-age still states a lifetime (RFC 9111 §4.2.1)", hdr("Cache-Control", "max-age=abc"), true},
		{"Last-Modified is not explicit (RFC 9111 §4.2.2)", hdr("Last-Modified", httpDate(t0)), false},
		{"public is not a lifetime (RFC 9111 §5.2.2.9)", hdr("Cache-Control", "public"), false},
		{"nothing", hdr(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HasExplicitFreshness(tt.h, ParseCacheControl(tt.h)); got != tt.want {
				t.Errorf("HasExplicitFreshness(%s) = %v, want %v", show(tt.h), got, tt.want)
			}
		})
	}
}

func TestHeuristicallyCacheable(t *testing.T) {
	t.Parallel()
	// RFC 9110 §15.1: "200, 203, 204, 206, 300, 301, 308, 404, 405, 410,
	// 414, and 501".
	cacheable := map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true,
		308: true, 404: true, 405: true, 410: true, 414: true, 501: true}
	for status := 100; status < 600; status++ {
		if got := HeuristicallyCacheable(status); got != cacheable[status] {
			t.Errorf("HeuristicallyCacheable(%d) = %v, want %v (RFC 9110 §15.1)", status, got, cacheable[status])
		}
	}
}

func TestFreshnessLifetimeSource(t *testing.T) {
	t.Parallel()
	const heuristicMax = 24 * time.Hour
	date := httpDate(t0)
	tests := []struct {
		name   string
		h      http.Header
		status int
		want   LifetimeSource
		// section is where the rule is defined.
		section string
	}{
		{"s-maxage beats max-age (RFC 9111 §5.2.2.10)",
			hdr("Cache-Control", "max-age=60, s-maxage=30"), 200, SourceSMaxAge, "RFC 9111 §5.2.2.10"},
		{"max-age beats Expires (RFC 9111 §5.2.2.1)",
			hdr("Cache-Control", "max-age=60", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), 200, SourceMaxAge, "RFC 9111 §5.2.2.1"},
		{"invalid max-age is still max-age's doing (RFC 9111 §4.2.1)",
			hdr("Cache-Control", "max-age=abc"), 200, SourceMaxAge, "RFC 9111 §5.2.2.1"},
		{"Expires minus Date (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour))), 200, SourceExpires, "RFC 9111 §5.3"},
		{"invalid Expires: already expired (RFC 9111 §5.3)",
			hdr("Date", date, "Expires", "0"), 200, SourceInvalidExpires, "RFC 9111 §5.3"},
		{"heuristic 10% of Last-Modified (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 200, SourceHeuristic, "RFC 9111 §4.2.2"},
		{"heuristic at the cap is not capped (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-240*time.Hour))), 200, SourceHeuristic, "RFC 9111 §4.2.2"},
		{"heuristic capped by heuristicMax (RFC 9111 §4.2.2)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-1000*time.Hour))), 200, SourceHeuristicCapped, "RFC 9111 §4.2.2"},
		{"heuristic without Last-Modified (RFC 9111 §4.2.2)",
			hdr("Date", date), 200, SourceNoLastModified, "RFC 9111 §4.2.2"},
		{"no heuristic for 302 (RFC 9110 §15.1)",
			hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 302, SourceNone, "RFC 9111 §4.2.1"},
		{"CDN-Cache-Control ignores Expires (RFC 9213 §2.1)",
			hdr("Cdn-Cache-Control", "public", "Date", date, "Expires", "0", "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 200, SourceHeuristic, "RFC 9111 §4.2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := ParseResponseCacheControl(tt.h)
			got, src := FreshnessLifetimeSource(tt.h, cc, tt.status, t0, heuristicMax)
			if src != tt.want || src.Section() != tt.section {
				t.Errorf("FreshnessLifetimeSource(%d, %s) source = %v (%s), want %v (%s)", tt.status, show(tt.h), src, src.Section(), tt.want, tt.section)
			}
			if want := FreshnessLifetime(tt.h, cc, tt.status, t0, heuristicMax); got != want {
				t.Errorf("FreshnessLifetimeSource(%d, %s) = %+v, FreshnessLifetime says %+v", tt.status, show(tt.h), got, want)
			}
			if got.Heuristic != (src == SourceHeuristic || src == SourceHeuristicCapped || src == SourceNoLastModified) {
				t.Errorf("FreshnessLifetimeSource(%d, %s) = %+v with source %v: Heuristic disagrees", tt.status, show(tt.h), got, src)
			}
		})
	}
	if s := LifetimeSource(200); s.String() != "unknown" || s.Section() != "" {
		t.Errorf("LifetimeSource(200) = %q, %q; want unknown, no section", s.String(), s.Section())
	}
}
