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
	if cc.SMaxAge.Present {
		return Lifetime{Duration: cc.SMaxAge.Value}
	}
	if cc.MaxAge.Present {
		return Lifetime{Duration: cc.MaxAge.Value}
	}
	date, ok := headerDate(h, "Date")
	if !ok {
		date = responseTime
	}
	if len(h["Expires"]) > 0 && !cc.Targeted {
		// An invalid Expires, "0" included, means already expired (§5.3).
		expires, ok := headerDate(h, "Expires")
		if !ok {
			return Lifetime{}
		}
		// A far-off Expires ("Fri, 31 Dec 9999 ...", a common way to say
		// "never") is capped as an overlong max-age is (§1.2.2), so that
		// the sums taken with it cannot overflow.
		return Lifetime{Duration: min(MaxDelta, max(0, expires.Sub(date)))}
	}
	if !HeuristicallyCacheable(status) && !cc.Public {
		return Lifetime{}
	}
	lastModified, ok := headerDate(h, "Last-Modified")
	if !ok || !lastModified.Before(date) {
		return Lifetime{Heuristic: true}
	}
	d := date.Sub(lastModified) / heuristicFraction
	return Lifetime{Duration: min(d, heuristicMax), Heuristic: true}
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
