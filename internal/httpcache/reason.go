// Package httpcache is RFC 9111 (HTTP Caching) and the caching parts of
// RFC 9110 written as pure functions over header fields and times.
//
// It does no I/O, starts no goroutines and has no clock: callers pass now.
// Each file covers one part of the specifications, and each rule cites its
// section as "RFC 9111 §N" so that grep finds the code for a paragraph.
// Decisions return a Reason that explains them; the same reasons feed the
// Cache-Status field, logs and metrics.
package httpcache

// Reason explains a caching decision in a few words, suitable for the
// detail parameter of Cache-Status (RFC 9211 §2.8) and for metric labels.
type Reason string

// Reasons for not storing a response or not using a stored one.
const (
	ReasonNone            Reason = ""
	ReasonMethod          Reason = "method"           // only GET responses are stored
	ReasonStatus          Reason = "status"           // status code not cacheable
	ReasonRequestNoStore  Reason = "req-no-store"     // request Cache-Control: no-store (§5.2.1.5)
	ReasonNoStore         Reason = "no-store"         // response Cache-Control: no-store (§5.2.2.5)
	ReasonPrivate         Reason = "private"          // response Cache-Control: private (§5.2.2.7)
	ReasonAuthorization   Reason = "authorization"    // request carried Authorization (§3.5)
	ReasonMustUnderstand  Reason = "must-understand"  // unknown status with must-understand (§5.2.2.3)
	ReasonNoFreshness     Reason = "no-freshness"     // neither lifetime nor validator: nothing to reuse
	ReasonVaryStar        Reason = "vary-star"        // Vary: * never matches (§4.1)
	ReasonVaryTooMany     Reason = "vary-too-many"    // varies on more than MaxVaryNames fields
	ReasonPartial         Reason = "partial"          // incomplete response (§3.3)
	ReasonTooLarge        Reason = "too-large"        // larger than the largest object stored
	ReasonRequestNoCache  Reason = "req-no-cache"     // request Cache-Control: no-cache (§5.2.1.4)
	ReasonNoCache         Reason = "no-cache"         // response Cache-Control: no-cache (§5.2.2.4)
	ReasonStale           Reason = "stale"            // freshness lifetime exceeded (§4.2)
	ReasonRequestMaxAge   Reason = "req-max-age"      // older than the request's max-age (§5.2.1.1)
	ReasonRequestMinFresh Reason = "req-min-fresh"    // fresh for less than min-fresh (§5.2.1.3)
	ReasonMaxStale        Reason = "max-stale"        // served stale within the request's max-stale (§5.2.1.2)
	ReasonFresh           Reason = "fresh"            // fresh, served from cache
	ReasonUncacheable     Reason = "uncacheable-hint" // recently seen uncacheable
	ReasonRequestBody     Reason = "request-body"     // a GET or HEAD with content bypasses the store
)
