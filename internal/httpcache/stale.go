package httpcache

import "time"

// StaleWhileRevalidate reports whether a stale response may be served
// while it is revalidated in the background (RFC 5861 §3): its
// stale-while-revalidate allows staleness this large, and no directive
// forbids serving it stale (RFC 9111 §4.2.4).
func StaleWhileRevalidate(respCC Directives, staleness time.Duration) bool {
	if StaleForbidden(respCC) || respCC.NoCache && len(respCC.NoCacheFields) == 0 {
		return false
	}
	return respCC.StaleWhileRevalidate.Valid && staleness <= respCC.StaleWhileRevalidate.Value
}

// StaleIfError reports whether a stale response may be served when the
// origin cannot be reached or answers 500, 502, 503 or 504 (RFC 5861 §4).
// The allowance is the response's stale-if-error, else the request's, else
// the cache's default grace; none of them applies when must-revalidate,
// proxy-revalidate or s-maxage forbid serving stale (RFC 9111 §4.2.4,
// §5.2.2.2, §5.2.2.8, §5.2.2.10).
func StaleIfError(respCC, reqCC Directives, staleness, defaultGrace time.Duration) bool {
	// An unqualified no-cache forbids stale responses too (§4.2.4).
	if StaleForbidden(respCC) || respCC.NoCache && len(respCC.NoCacheFields) == 0 {
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

// ErrorStatus reports whether an origin status lets stale-if-error apply
// (RFC 5861 §4).
func ErrorStatus(status int) bool {
	switch status {
	case 500, 502, 503, 504:
		return true
	}
	return false
}
