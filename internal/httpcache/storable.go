package httpcache

import (
	"net/http"
	"slices"
)

// MaxVaryNames is the most fields a stored response may vary on.
const MaxVaryNames = 16

// Exchange is one request and the response the origin gave to it, as far as
// the storing rules need them.
type Exchange struct {
	Method     string
	ReqHeader  http.Header
	ReqCC      Directives
	Status     int
	RespHeader http.Header
	RespCC     Directives
}

// understoodStatus reports whether Hoard implements the caching requirements
// of a status code, which must-understand asks of a cache (RFC 9111 §5.2.2.3).
func understoodStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501:
		return true
	}
	return false
}

// Storable reports whether a shared cache may store the response of x
// (RFC 9111 §3), and if not, why.
func Storable(x Exchange) (bool, Reason) {
	// §3: the request method is understood and cacheable; Hoard stores GET
	// (a HEAD is answered from a stored GET).
	if x.Method != http.MethodGet {
		return false, ReasonMethod
	}
	// §3: a final status code. 206 and 304 are not complete responses that
	// Hoard stores on their own (§3.3, §4.3.4 handles 304).
	if x.Status < 200 || x.Status == http.StatusPartialContent || x.Status == http.StatusNotModified {
		return false, ReasonStatus
	}
	// §5.2.2.3: with must-understand, a status the cache understands may
	// be stored even under no-store; one it does not must not be.
	if x.RespCC.MustUnderstand {
		if !understoodStatus(x.Status) {
			return false, ReasonMustUnderstand
		}
	} else if x.RespCC.NoStore {
		return false, ReasonNoStore
	}
	// §5.2.1.5: a request's no-store forbids storing its response.
	if x.ReqCC.NoStore {
		return false, ReasonRequestNoStore
	}
	// §5.2.2.7: a shared cache never stores an unqualified private
	// response (a qualified one is stored without the named fields).
	if x.RespCC.Private && len(x.RespCC.PrivateFields) == 0 {
		return false, ReasonPrivate
	}
	// §3.5: a response to a request with Authorization only with public,
	// s-maxage or must-revalidate.
	if x.ReqHeader.Get("Authorization") != "" &&
		!x.RespCC.Public && !x.RespCC.SMaxAge.Present && !x.RespCC.MustRevalidate {
		return false, ReasonAuthorization
	}
	// §4.1: Vary: * can never be matched by a later request.
	names := VaryNames(x.RespHeader)
	if slices.Contains(names, "*") {
		return false, ReasonVaryStar
	}
	// A response that varies on more fields than any real negotiation
	// uses is not stored: each field lengthens every secondary key.
	if len(names) > MaxVaryNames {
		return false, ReasonVaryTooMany
	}
	// §3: explicit freshness, public, or a heuristically cacheable status.
	if !HasExplicitFreshness(x.RespHeader, x.RespCC) && !x.RespCC.Public &&
		!HeuristicallyCacheable(x.Status) {
		return false, ReasonStatus
	}
	return true, ReasonNone
}

// Reusable reports whether a stored response could ever answer a request
// without a full new response: it has freshness, a validator, or a stale
// allowance. Storing one that has none would only waste space (the
// cache-tests "freshness-none" case).
func Reusable(h http.Header, cc Directives, lifetime Lifetime) bool {
	return lifetime.Duration > 0 || HasValidator(h) || cc.StaleIfError.Valid && cc.StaleIfError.Value > 0
}

// HasValidator reports whether a response carries ETag or Last-Modified.
func HasValidator(h http.Header) bool {
	return h.Get("ETag") != "" || h.Get("Last-Modified") != ""
}

// StoredHeader returns the header fields to store for a response: the
// fields a qualified private names are dropped (RFC 9111 §5.2.2.7), and so
// are the connection-specific fields of RFC 9111 §3.1 and the fields that
// are one client's alone (Set-Cookie, unsharedFields). h is not modified;
// the result shares no maps with it.
func StoredHeader(h http.Header, cc Directives) http.Header {
	out := h.Clone()
	RemoveHopByHop(out)
	RemoveUnshared(out)
	for _, f := range cc.PrivateFields {
		out.Del(f)
	}
	return out
}
