package httpcache

import (
	"net/http"
	"time"
)

// Lifetime is a response's freshness lifetime and where it came from.
type Lifetime struct {
	Duration  time.Duration
	Heuristic bool // assigned by RFC 9111 §4.2.2, not stated by the origin
}

// heuristicFraction is the share of the time since Last-Modified that a
// heuristic lifetime grants (RFC 9111 §4.2.2 suggests 10%).
const heuristicFraction = 10

// FreshnessLifetime computes how long a response stays fresh in a shared
// cache (RFC 9111 §4.2.1), first match wins:
//
//  1. s-maxage (§5.2.2.10),
//  2. max-age (§5.2.2.1),
//  3. Expires minus Date (§5.3),
//  4. a heuristic (§4.2.2): 10% of Date minus Last-Modified, capped at
//     heuristicMax, for heuristically cacheable statuses or public responses.
//
// An s-maxage or max-age with an invalid argument, and an Expires that is not
// one valid HTTP-date, make the response stale (lifetime zero).
// responseTime stands in for a missing Date.
func FreshnessLifetime(h http.Header, cc Directives, status int, responseTime time.Time, heuristicMax time.Duration) Lifetime {
	l, _ := FreshnessLifetimeSource(h, cc, status, responseTime, heuristicMax)
	return l
}

// LifetimeSource names the rule of RFC 9111 §4.2.1 that gave a freshness
// lifetime, for explaining it (hoard explain); the caching rules need only
// the Lifetime.
type LifetimeSource uint8

// The rules of RFC 9111 §4.2.1, and the ways the heuristic of §4.2.2 ends.
const (
	// SourceNone: no lifetime is stated and none may be assigned (the
	// status is not heuristically cacheable and the response not public).
	SourceNone            LifetimeSource = iota
	SourceSMaxAge                        // s-maxage (§5.2.2.10)
	SourceMaxAge                         // max-age (§5.2.2.1)
	SourceExpires                        // Expires minus Date (§5.3)
	SourceInvalidExpires                 // an Expires that is not one valid date: already expired (§5.3)
	SourceHeuristic                      // 10% of Date minus Last-Modified (§4.2.2)
	SourceHeuristicCapped                // the same, capped at the heuristic maximum (§4.2.2)
	SourceNoLastModified                 // a heuristic was allowed, but no Last-Modified before Date to base it on (§4.2.2)
)

var lifetimeSources = [...]struct{ name, section string }{
	SourceNone:            {"none", "RFC 9111 §4.2.1"},
	SourceSMaxAge:         {"s-maxage", "RFC 9111 §5.2.2.10"},
	SourceMaxAge:          {"max-age", "RFC 9111 §5.2.2.1"},
	SourceExpires:         {"expires", "RFC 9111 §5.3"},
	SourceInvalidExpires:  {"invalid-expires", "RFC 9111 §5.3"},
	SourceHeuristic:       {"heuristic", "RFC 9111 §4.2.2"},
	SourceHeuristicCapped: {"heuristic-capped", "RFC 9111 §4.2.2"},
	SourceNoLastModified:  {"heuristic-no-last-modified", "RFC 9111 §4.2.2"},
}

// String returns the source's name, as hoard explain --json shows it.
func (s LifetimeSource) String() string {
	if int(s) < len(lifetimeSources) {
		return lifetimeSources[s].name
	}
	return "unknown"
}

// Section returns the section that defines the rule, in the form
// "RFC 9111 §5.2.2.1".
func (s LifetimeSource) Section() string {
	if int(s) < len(lifetimeSources) {
		return lifetimeSources[s].section
	}
	return ""
}

// FreshnessLifetimeSource is FreshnessLifetime that also says which rule
// gave the lifetime (RFC 9111 §4.2.1). Both share this one implementation
// of the rules' order.
func FreshnessLifetimeSource(h http.Header, cc Directives, status int, responseTime time.Time, heuristicMax time.Duration) (Lifetime, LifetimeSource) {
	if cc.SMaxAge.Present {
		return Lifetime{Duration: cc.SMaxAge.Value}, SourceSMaxAge
	}
	if cc.MaxAge.Present {
		return Lifetime{Duration: cc.MaxAge.Value}, SourceMaxAge
	}
	date, ok := headerDate(h, "Date")
	if !ok {
		date = responseTime
	}
	if len(h["Expires"]) > 0 && !cc.Targeted {
		// An invalid Expires, "0" included, means already expired (§5.3).
		expires, ok := headerDate(h, "Expires")
		if !ok {
			return Lifetime{}, SourceInvalidExpires
		}
		// A far-off Expires ("Fri, 31 Dec 9999 ...", a common way to say
		// "never") is capped as an overlong max-age is (§1.2.2), so that
		// the sums taken with it cannot overflow.
		return Lifetime{Duration: min(MaxDelta, max(0, expires.Sub(date)))}, SourceExpires
	}
	if !HeuristicallyCacheable(status) && !cc.Public {
		return Lifetime{}, SourceNone
	}
	lastModified, ok := headerDate(h, "Last-Modified")
	if !ok || !lastModified.Before(date) {
		return Lifetime{Heuristic: true}, SourceNoLastModified
	}
	d := date.Sub(lastModified) / heuristicFraction
	if d > heuristicMax {
		return Lifetime{Duration: heuristicMax, Heuristic: true}, SourceHeuristicCapped
	}
	return Lifetime{Duration: d, Heuristic: true}, SourceHeuristic
}

// HasExplicitFreshness reports whether a response states its own lifetime:
// s-maxage, max-age or Expires (RFC 9111 §3, §4.2.1).
func HasExplicitFreshness(h http.Header, cc Directives) bool {
	return cc.SMaxAge.Present || cc.MaxAge.Present || len(h["Expires"]) > 0 && !cc.Targeted
}

// HeuristicallyCacheable reports whether a status code may be given a
// heuristic lifetime (RFC 9110 §15.1).
func HeuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}
