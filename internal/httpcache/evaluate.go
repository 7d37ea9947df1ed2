package httpcache

import (
	"net/http"
	"time"
)

// Stored is a stored response as the reuse rules see it.
type Stored struct {
	Status                    int
	Header                    http.Header
	CC                        Directives // parsed from Header
	RequestTime, ResponseTime time.Time
	// Facts, when not nil, holds what Analyze derived from the fields
	// above, so that Evaluate does not parse them again.
	Facts *Facts
}

// Facts are what the reuse rules derive from a stored response alone, once:
// its freshness lifetime (§4.2.1) and its corrected initial age (§4.2.3),
// to which only the resident time is added at each use.
type Facts struct {
	Lifetime            Lifetime
	CorrectedInitialAge time.Duration
}

// Analyze derives the Facts of a stored response.
func Analyze(s Stored, heuristicMax time.Duration) Facts {
	return Facts{
		Lifetime:            FreshnessLifetime(s.Header, s.CC, s.Status, s.ResponseTime, heuristicMax),
		CorrectedInitialAge: CurrentAge(s.Header, s.RequestTime, s.ResponseTime, s.ResponseTime),
	}
}

// Action is what a cache does with a request given a stored response.
type Action int

const (
	// Serve answers from the stored response without contacting the origin.
	Serve Action = iota
	// Validate sends a conditional request to the origin first (§4.3).
	Validate
)

func (a Action) String() string {
	if a == Serve {
		return "serve"
	}
	return "validate"
}

// Decision is what the cache does with a request, given what is stored
// (RFC 9111 §4), and why.
type Decision struct {
	Action   Action
	Reason   Reason
	Lifetime Lifetime
	// Age is the stored response's current age (§4.2.3).
	Age time.Duration
	// Stale is true when the stored response's age exceeds its lifetime.
	Stale bool
}

// TTL is the remaining freshness: negative once the response is stale.
func (d Decision) TTL() time.Duration { return d.Lifetime.Duration - d.Age }

// Policy carries the settings the reuse rules depend on.
type Policy struct {
	// HeuristicMax caps heuristic lifetimes (§4.2.2).
	HeuristicMax time.Duration
}

// Evaluate decides whether a stored response that matches a request's key
// and Vary may answer it without validation (RFC 9111 §4).
//
// The order follows the RFC: no-cache on either side (§5.2.1.4, §5.2.2.4)
// requires validation; a fresh response (§4.2) is served unless the
// request's max-age or min-fresh asks for younger; a stale one is served
// only within the request's max-stale (§5.2.1.2) and never when the response
// forbids it with must-revalidate, proxy-revalidate or s-maxage (§4.2.4,
// §5.2.2.2, §5.2.2.8, §5.2.2.10).
func Evaluate(reqHeader http.Header, reqCC Directives, s Stored, now time.Time, p Policy) Decision {
	facts := s.Facts
	if facts == nil {
		f := Analyze(s, p.HeuristicMax)
		facts = &f
	}
	d := Decision{
		Lifetime: facts.Lifetime,
		// current_age = corrected_initial_age + resident_time (§4.2.3)
		Age: facts.CorrectedInitialAge + max(0, now.Sub(s.ResponseTime)),
	}
	d.Stale = d.Age >= d.Lifetime.Duration
	switch {
	case s.CC.NoCache && len(s.CC.NoCacheFields) == 0:
		return d.validate(ReasonNoCache)
	case RequestNoCache(reqHeader, reqCC):
		return d.validate(ReasonRequestNoCache)
	}
	if !d.Stale {
		// §5.2.1.1: an invalid request max-age is ignored.
		if reqCC.MaxAge.Valid && d.Age > reqCC.MaxAge.Value {
			return d.validate(ReasonRequestMaxAge)
		}
		if reqCC.MinFresh.Valid && d.TTL() < reqCC.MinFresh.Value {
			return d.validate(ReasonRequestMinFresh)
		}
		d.Action, d.Reason = Serve, ReasonFresh
		return d
	}
	if reqCC.MaxStale.Valid && !StaleForbidden(s.CC) && -d.TTL() <= reqCC.MaxStale.Value &&
		!(reqCC.MaxAge.Valid && d.Age > reqCC.MaxAge.Value) {
		d.Action, d.Reason = Serve, ReasonMaxStale
		return d
	}
	return d.validate(ReasonStale)
}

func (d Decision) validate(r Reason) Decision {
	d.Action, d.Reason = Validate, r
	return d
}

// StaleForbidden reports whether a response may never be served stale by a
// shared cache: must-revalidate (§5.2.2.2), proxy-revalidate (§5.2.2.8) or
// s-maxage (§5.2.2.10).
func StaleForbidden(cc Directives) bool {
	return cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge.Present
}

// RequestNoCache reports whether a request asks for validation: a
// Cache-Control no-cache (§5.2.1.4), or, when the request has no
// Cache-Control field, Pragma: no-cache (§5.4).
func RequestNoCache(h http.Header, cc Directives) bool {
	if cc.NoCache {
		return true
	}
	if len(h["Cache-Control"]) > 0 {
		return false
	}
	for _, v := range h["Pragma"] {
		if containsToken(v, "no-cache") {
			return true
		}
	}
	return false
}
