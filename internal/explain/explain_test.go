package explain

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// t0 is when the tests' responses were received.
var t0 = time.Date(2050, time.August, 18, 2, 1, 18, 0, time.UTC)

var policy = Policy{HeuristicMax: 24 * time.Hour, StaleIfError: 5 * time.Minute, MaxObjectSize: 1 << 20}

// hdr builds a header from name, value pairs, with Date t0 unless given.
func hdr(kv ...string) http.Header {
	h := http.Header{"Date": {httpcache.FormatDate(t0)}}
	for i := 0; i < len(kv); i += 2 {
		h[http.CanonicalHeaderKey(kv[i])] = append(h[http.CanonicalHeaderKey(kv[i])][:0:0], kv[i+1])
	}
	return h
}

// stored is a response stored at t0.
func stored(status int, h http.Header) Response {
	return Response{Key: "http://h/x", Stored: true, Status: status, Header: h, RequestTime: t0, ResponseTime: t0, Size: 12}
}

// fetched is a response fetched at t0 that the proxy decided not to store
// for why.
func fetched(why httpcache.Reason, size int64, h http.Header) Response {
	return Response{Key: "http://h/x", NotStored: why, Status: 200, Header: h, RequestTime: t0, ResponseTime: t0, Size: size}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Response
		at   time.Duration // after t0
		// want holds the fields checked; Lines are checked by lines.
		want  Variant
		lines []string // each must be one of the variant's lines
	}{
		{"stored, fresh by max-age (RFC 9111 §3, §5.2.2.1)",
			stored(200, hdr("Cache-Control", "max-age=60", "ETag", `"v1"`, "Surrogate-Key", "news front")).withTags("news", "front"),
			18*time.Second + 500*time.Millisecond, // the seconds on the line add up all the same
			Variant{Stored: true, Storable: true, LifetimeRule: "max-age", LifetimeSeconds: 60, AgeSeconds: 18, Fresh: true,
				StaleAt: t0.Add(time.Minute), ETag: `"v1"`, StaleIfErrorSeconds: 300, Tags: []string{"news", "front"}},
			[]string{
				"stored: a GET answered 200, nothing forbids storing it, and it states its lifetime (max-age) (RFC 9111 §3)",
				"fresh for 42s more (until 2050-08-18T02:02:18Z): max-age=60 (RFC 9111 §5.2.2.1), age 18s (§4.2.3)",
				"the next request is a hit, served from the store (RFC 9111 §4.2)",
				`revalidates with If-None-Match: "v1" (its ETag) (RFC 9111 §4.3.1)`,
				"no stale-while-revalidate: once stale, a request waits for the revalidation (RFC 5861 §3)",
				"no stale-if-error of its own; the --stale-if-error default 5m: served up to 5m stale when the origin fails or answers 500, 502, 503 or 504 (RFC 5861 §4)",
				`purged by the tags news, front (Surrogate-Key, Cache-Tag): POST /_hoard/purge {"tags":["news","front"]}`,
				"no Vary: it answers every request for the URL (RFC 9111 §4.1)",
			}},
		{"not stored: private (RFC 9111 §5.2.2.7)",
			fetched(httpcache.ReasonPrivate, 12, hdr("Cache-Control", "private, max-age=60")), 0,
			Variant{NotStoredReason: httpcache.ReasonPrivate, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleIfErrorSeconds: 300},
			[]string{
				"not stored: Cache-Control: private, which is for one user's own cache, never a shared one (RFC 9111 §5.2.2.7)",
				`to cache it: if it is the same for every user, send Cache-Control: public, max-age=N instead; if only some fields are personal, name them: private="Set-Cookie"`,
				"would be fresh for 1m: max-age=60 (RFC 9111 §5.2.2.1)",
			}},
		{"heuristic freshness: 10% of Last-Modified (RFC 9111 §4.2.2)",
			stored(200, hdr("Last-Modified", httpcache.FormatDate(t0.Add(-100*time.Hour)))), time.Hour,
			Variant{Stored: true, Storable: true, LifetimeRule: "heuristic", LifetimeSeconds: 36000, AgeSeconds: 3600, Fresh: true,
				StaleAt: t0.Add(10 * time.Hour), LastModified: httpcache.FormatDate(t0.Add(-100 * time.Hour)), StaleIfErrorSeconds: 300},
			[]string{
				"stored: a GET answered 200, nothing forbids storing it, and status 200 may be given a heuristic lifetime (RFC 9111 §3, RFC 9110 §15.1)",
				"fresh for 9h more (until 2050-08-18T12:01:18Z): heuristic, 10% of the 100h since Last-Modified (RFC 9111 §4.2.2), age 1h (§4.2.3)",
				"revalidates with If-Modified-Since: Sat, 13 Aug 2050 22:01:18 GMT (its Last-Modified) (RFC 9111 §4.3.1)",
			}},
		{"heuristic capped by --heuristic-max (RFC 9111 §4.2.2)",
			stored(200, hdr("Last-Modified", httpcache.FormatDate(t0.Add(-1000*time.Hour)))), 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "heuristic-capped", LifetimeSeconds: 86400, Fresh: true,
				StaleAt: t0.Add(24 * time.Hour), LastModified: httpcache.FormatDate(t0.Add(-1000 * time.Hour)), StaleIfErrorSeconds: 300},
			[]string{
				"fresh for 24h more (until 2050-08-19T02:01:18Z): heuristic, 10% of the 1000h since Last-Modified, capped by --heuristic-max 24h (RFC 9111 §4.2.2), age 0s (§4.2.3)",
			}},
		{"stale within stale-while-revalidate (RFC 5861 §3)",
			stored(200, hdr("Cache-Control", "max-age=60, stale-while-revalidate=300")), 90 * time.Second,
			Variant{Stored: true, Storable: true, LifetimeRule: "max-age", LifetimeSeconds: 60, AgeSeconds: 90,
				StaleAt: t0.Add(time.Minute), StaleWhileRevalidateSeconds: 300, StaleIfErrorSeconds: 300},
			[]string{
				"stale for 30s (since 2050-08-18T02:02:18Z): max-age=60 (RFC 9111 §5.2.2.1), age 1m30s (§4.2.3)",
				"the next request is served stale, and revalidates it in the background (RFC 5861 §3)",
				"no validator (ETag, Last-Modified): once stale it is fetched again in full (RFC 9111 §4.3.1)",
				"stale-while-revalidate=300: for 5m after it goes stale, it is served while revalidated in the background; it is within it now (RFC 5861 §3)",
				"no stale-if-error of its own; the --stale-if-error default 5m: served up to 5m stale when the origin fails or answers 500, 502, 503 or 504; it is within it now (RFC 5861 §4)",
			}},
		{"stale past stale-while-revalidate, with its own stale-if-error (RFC 5861 §3, §4)",
			stored(200, hdr("Cache-Control", "max-age=60, stale-while-revalidate=10, stale-if-error=30", "ETag", `W/"x"`)), 2 * time.Minute,
			Variant{Stored: true, Storable: true, LifetimeRule: "max-age", LifetimeSeconds: 60, AgeSeconds: 120,
				StaleAt: t0.Add(time.Minute), ETag: `W/"x"`, StaleWhileRevalidateSeconds: 10, StaleIfErrorSeconds: 30},
			[]string{
				"the next request goes to the origin to revalidate it (RFC 9111 §4.3)",
				"stale-while-revalidate=10: for 10s after it goes stale, it is served while revalidated in the background; it is past it now (RFC 5861 §3)",
				"stale-if-error=30: served up to 30s stale when the origin fails or answers 500, 502, 503 or 504; it is past it now (RFC 5861 §4)",
			}},
		{"must-revalidate forbids stale (RFC 9111 §5.2.2.2)",
			stored(200, hdr("Cache-Control", "max-age=60, must-revalidate, stale-while-revalidate=60")), 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleForbiddenBy: "must-revalidate"},
			[]string{
				"never served stale: must-revalidate (RFC 9111 §5.2.2.2) overrides stale-while-revalidate, stale-if-error and --stale-if-error (RFC 9111 §4.2.4)",
			}},
		{"no-cache: validated before every use (RFC 9111 §5.2.2.4)",
			stored(200, hdr("Cache-Control", "no-cache", "ETag", `"a"`)), 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "heuristic-no-last-modified", StaleAt: t0, ETag: `"a"`, StaleForbiddenBy: "no-cache"},
			[]string{
				"no-cache: every use is validated with the origin first, fresh or not (RFC 9111 §5.2.2.4)",
				"the next request goes to the origin to revalidate it (RFC 9111 §4.3)",
				"never served stale: no-cache (RFC 9111 §5.2.2.4) overrides stale-while-revalidate, stale-if-error and --stale-if-error (RFC 9111 §4.2.4)",
			}},
		{"s-maxage from CDN-Cache-Control (RFC 9213, RFC 9111 §5.2.2.10)",
			stored(200, hdr("CDN-Cache-Control", "s-maxage=600", "Cache-Control", "no-store")), 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "s-maxage", LifetimeSeconds: 600, Fresh: true,
				StaleAt: t0.Add(10 * time.Minute), StaleForbiddenBy: "s-maxage"},
			[]string{
				"fresh for 10m more (until 2050-08-18T02:11:18Z): s-maxage=600 in CDN-Cache-Control (RFC 9213) (RFC 9111 §5.2.2.10), age 0s (§4.2.3)",
			}},
		{"Expires minus Date (RFC 9111 §5.3)",
			stored(200, hdr("Expires", httpcache.FormatDate(t0.Add(time.Hour)), "Age", "600")), 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "expires", LifetimeSeconds: 3600, AgeSeconds: 600, Fresh: true,
				StaleAt: t0.Add(50 * time.Minute), StaleIfErrorSeconds: 300},
			[]string{
				"fresh for 50m more (until 2050-08-18T02:51:18Z): Expires minus Date, 1h (RFC 9111 §5.3), age 10m (§4.2.3)",
			}},
		{"Vary: the request fields that select it (RFC 9111 §4.1)",
			Response{Key: "http://h/x\x00Accept-Encoding=gzip&Accept-Language", Stored: true, Status: 200,
				Header:        hdr("Cache-Control", "max-age=60", "Vary", "accept-encoding, Accept-Language"),
				RequestHeader: http.Header{"Accept-Encoding": {"GZIP"}}, RequestTime: t0, ResponseTime: t0, Size: 12}, 0,
			Variant{Stored: true, Storable: true, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleIfErrorSeconds: 300, Vary: []string{"Accept-Encoding", "Accept-Language"},
				RequestFields: []Field{{Name: "Accept-Encoding", Value: "gzip"}, {Name: "Accept-Language", Absent: true}}},
			[]string{
				"varies on Accept-Encoding, Accept-Language; selected by requests with Accept-Encoding: gzip, no Accept-Language (RFC 9111 §4.1)",
			}},
		{"not stored: too large for --max-object-size",
			fetched(httpcache.ReasonTooLarge, 2<<20, hdr("Cache-Control", "max-age=60")), 0,
			Variant{NotStoredReason: httpcache.ReasonTooLarge, Size: 2 << 20, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleIfErrorSeconds: 300},
			[]string{
				"not stored: its body (2097152 bytes) is larger than --max-object-size (1048576 bytes)",
				"to cache it: raise --max-object-size above the body's size, or make the body smaller",
			}},
		{"not stored: Authorization without public (RFC 9111 §3.5)",
			fetched(httpcache.ReasonAuthorization, 12, hdr("Cache-Control", "max-age=60")), 0,
			Variant{NotStoredReason: httpcache.ReasonAuthorization, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleIfErrorSeconds: 300},
			[]string{
				"not stored: the request carried Authorization, and the response has none of public, s-maxage, must-revalidate (RFC 9111 §3.5)",
				"to cache it: if it is the same for every authorised user, add Cache-Control: public (or s-maxage=N)",
			}},
		{"not stored: Vary: * (RFC 9111 §4.1)",
			fetched(httpcache.ReasonVaryStar, 12, hdr("Cache-Control", "max-age=60", "Vary", "*")), 0,
			Variant{NotStoredReason: httpcache.ReasonVaryStar, LifetimeRule: "max-age", LifetimeSeconds: 60, Fresh: true,
				StaleAt: t0.Add(time.Minute), StaleIfErrorSeconds: 300, Vary: []string{"*"}},
			[]string{
				"not stored: Vary: *, which no later request can match (RFC 9111 §4.1)",
				"to cache it: name the request fields the response depends on instead, such as Vary: Accept-Encoding",
			}},
		{"not stored: no freshness and no validator (RFC 9111 §4.2, §4.3.1)",
			fetched(httpcache.ReasonNoFreshness, 12, hdr("Cache-Control", "max-age=0")), 0,
			Variant{NotStoredReason: httpcache.ReasonNoFreshness, LifetimeRule: "max-age", StaleAt: t0, StaleIfErrorSeconds: 300},
			[]string{
				"not stored: it has no freshness lifetime and no validator (ETag, Last-Modified), so it could never be reused (RFC 9111 §4.2, §4.3.1)",
				"to cache it: send Cache-Control: max-age=N, or an ETag or Last-Modified so that Hoard can revalidate it",
			}},
		{"not stored: no-store (RFC 9111 §5.2.2.5)",
			fetched(httpcache.ReasonNoStore, 12, hdr("Cache-Control", "no-store")), 0,
			Variant{NotStoredReason: httpcache.ReasonNoStore, LifetimeRule: "heuristic-no-last-modified", StaleAt: t0, StaleIfErrorSeconds: 300},
			[]string{
				"not stored: Cache-Control: no-store (RFC 9111 §5.2.2.5)",
				"would be fresh for 0s: no lifetime stated, and no Last-Modified before Date to base a heuristic on (RFC 9111 §4.2.2)",
			}},
		{"not stored: status 302 without freshness (RFC 9111 §3, RFC 9110 §15.1)",
			Response{Key: "http://h/x", NotStored: httpcache.ReasonStatus, Status: 302, Header: hdr("Location", "/y"),
				RequestTime: t0, ResponseTime: t0, Size: 0}, 0,
			Variant{Status: 302, NotStoredReason: httpcache.ReasonStatus, LifetimeRule: "none", StaleAt: t0, StaleIfErrorSeconds: 300},
			[]string{
				"not stored: status 302 states no lifetime (no s-maxage, max-age or Expires), is not public, and may not be given a heuristic one (RFC 9111 §3, RFC 9110 §15.1)",
				"to cache it: send Cache-Control: max-age=N (or s-maxage=N) with the 302",
				"would be fresh for 0s: no s-maxage, max-age or Expires, and status 302 gets no heuristic lifetime (RFC 9111 §4.2.1)",
			}},
		{"storable when fetched: explain does not store it",
			fetched(httpcache.ReasonNone, 12, hdr("Cache-Control", "public")), 0,
			Variant{Storable: true, LifetimeRule: "heuristic-no-last-modified", StaleAt: t0, StaleIfErrorSeconds: 300},
			[]string{
				"storable (explain did not store it; the next request will): a GET answered 200, nothing forbids storing it, and it is public (RFC 9111 §3, §5.2.2.9)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Explain(tt.r, policy, t0.Add(tt.at))
			want := tt.want
			want.Key, want.Lines = tt.r.Key, got.Lines
			if want.Status == 0 {
				want.Status = 200
			}
			if want.Size == 0 {
				want.Size = tt.r.Size
			}
			if !equalVariants(got, want) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("Explain(%s) =\n%s\nwant\n%s", tt.name, gj, wj)
			}
			var texts []string
			for _, l := range got.Lines {
				texts = append(texts, l.Text)
			}
			for _, line := range tt.lines {
				if !slices.Contains(texts, line) {
					t.Errorf("Explain(%s) lacks the line\n  %s\nit has\n  %s", tt.name, line, strings.Join(texts, "\n  "))
				}
			}
		})
	}
}

func (r Response) withTags(tags ...string) Response {
	r.Tags = tags
	return r
}

// equalVariants compares variants field by field (StaleAt as an instant).
func equalVariants(a, b Variant) bool {
	if !a.StaleAt.Equal(b.StaleAt) {
		return false
	}
	a.StaleAt, b.StaleAt = time.Time{}, time.Time{}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return string(aj) == string(bj)
}

// TestEveryLineCitesItsRule checks that each line, but the fix and the
// tags, ends with the section that states its rule.
func TestEveryLineCitesItsRule(t *testing.T) {
	t.Parallel()
	for _, r := range []Response{
		stored(200, hdr("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=60", "ETag", `"a"`, "Vary", "Accept")),
		stored(200, hdr("Cache-Control", "s-maxage=60")),
		fetched(httpcache.ReasonPrivate, 12, hdr("Cache-Control", "private")),
	} {
		for _, l := range Explain(r, Policy{}, t0.Add(time.Hour)).Lines {
			if l.Rule == "fix" || l.Rule == "tags" {
				continue
			}
			if !strings.HasSuffix(l.Text, ")") || !strings.Contains(l.Text, "§") {
				t.Errorf("%s line cites no section: %q", l.Rule, l.Text)
			}
		}
	}
}

func TestHuman(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 90 * time.Second: "1m30s", time.Minute: "1m", 24 * time.Hour: "24h",
		time.Hour + time.Second: "1h0m1s", 100*time.Hour + 30*time.Minute: "100h30m", 1500 * time.Millisecond: "1s",
		-30 * time.Second: "-30s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	v := Explain(stored(200, hdr("Cache-Control", "max-age=60")), policy, t0)
	var b strings.Builder
	if err := (Report{URL: "http://h/x", Variants: []Variant{v, v}}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"http://h/x: 2 stored variants\nvariant 1 of 2:\n  status 200, 12 bytes\n  stored: ",
		"\nvariant 2 of 2:\n",
		"\n  fresh for 1m more (until 2050-08-18T02:02:18Z): max-age=60 (RFC 9111 §5.2.2.1), age 0s (§4.2.3)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteText lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	f := Explain(fetched(httpcache.ReasonPrivate, -1, hdr("Cache-Control", "private")), policy, t0)
	if err := (Report{URL: "http://h/x", Fetched: true, Variants: []Variant{f}}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := "http://h/x: nothing stored; the origin's answer to a GET now (not stored by explain):\n  status 200, size unknown\n  not stored: "; !strings.HasPrefix(b.String(), want) {
		t.Errorf("WriteText = %q, want it to start with %q", b.String(), want)
	}
}
