package httpcache

import "time"

// StaleWhileRevalidate reports whether a stale response may be served
// while it is revalidated in the background (RFC 5861 §3): its
// stale-while-revalidate allows staleness this large, and no directive
// forbids serving it stale (RFC 9111 §4.2.4).
func StaleWhileRevalidate(respCC Directives, staleness time.Duration) bool {
	if StaleForbiddenBy(respCC) != "" {
		return false
	}
	return respCC.StaleWhileRevalidate.Valid && staleness <= respCC.StaleWhileRevalidate.Value
}

// StaleIfError reports whether a stale response may be served when the
// origin cannot be reached or answers 500, 502, 503 or 504 (RFC 5861 §4).
// The allowance is the response's stale-if-error, else the request's, else
// the cache's default grace; none of them applies when must-revalidate,
// proxy-revalidate, s-maxage or no-cache forbid serving stale
// (StaleForbiddenBy).
func StaleIfError(respCC, reqCC Directives, staleness, defaultGrace time.Duration) bool {
	if StaleForbiddenBy(respCC) != "" {
		return false
	}
	allowed := defaultGrace
	switch {
	case respCC.StaleIfError.Valid:
		allowed = respCC.StaleIfError.Value
	case reqCC.StaleIfError.Valid:
		allowed = reqCC.StaleIfError.Value
	}
	return staleness <= allowed
}

// StaleForbiddenBy names the directive of a response that forbids a shared
// cache to serve it stale, under stale-while-revalidate, stale-if-error or
// the cache's own grace, or returns "" when none does: must-revalidate
// (RFC 9111 §5.2.2.2), proxy-revalidate (§5.2.2.8), s-maxage (§5.2.2.10),
// or an unqualified no-cache, which asks for validation before every use
// (§4.2.4, §5.2.2.4). When several are present, the first in that order is
// named.
func StaleForbiddenBy(respCC Directives) string {
	switch {
	case respCC.MustRevalidate:
		return "must-revalidate"
	case respCC.ProxyRevalidate:
		return "proxy-revalidate"
	case respCC.SMaxAge.Present:
		return "s-maxage"
	case respCC.NoCache && len(respCC.NoCacheFields) == 0:
		return "no-cache"
	}
	return ""
}

// ErrorStatus reports whether an origin status lets stale-if-error apply
// (RFC 5861 §4).
func ErrorStatus(status int) bool {
	switch status {
	case 500, 502, 503, 504:
		return true
	}
	return false
}
