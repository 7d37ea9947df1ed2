// Package explain says in plain words what Hoard does with the responses
// stored for a URL, rule by rule, each with its RFC section: whether a
// response is stored and why (or exactly why not, and what the origin could
// change), how long it is fresh and which rule says so, its age, its
// validators, the stale allowances that apply or what forbids them, the tags
// that purge it and the request fields that select it. It is what
// "hoard explain" prints.
//
// It reads the decisions of package httpcache (Storable's Reason,
// FreshnessLifetimeSource, Evaluate, ConditionalHeaders, the stale rules)
// and makes none of its own. It does no I/O and has no clock: package proxy
// reads the store or asks the origin, and passes the responses and now in.
package explain

import (
	"net/http"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// Response is one response to explain: a variant read from the store, or
// the origin's answer to a GET made for the explanation.
type Response struct {
	// Key is the store key the response is (or would be) stored under.
	Key string
	// Stored is true for a response read from the store, false for one
	// fetched from the origin for the explanation.
	Stored bool
	// NotStored says why a fetched response would not be stored, as the
	// proxy decides it (httpcache.Storable, then whether it is reusable and
	// not too large); ReasonNone when it would be. Unused when Stored.
	NotStored httpcache.Reason
	Status    int
	// Header is the response's header as stored, or as the origin sent it.
	Header http.Header
	// RequestHeader holds the request's fields: for a stored variant those
	// its Vary nominates, as the request that stored it carried them.
	RequestHeader http.Header
	// RequestTime and ResponseTime are those of RFC 9111 §4.2.3.
	RequestTime, ResponseTime time.Time
	// Size is the body's length in bytes, -1 when not known.
	Size int64
	// Tags are the invalidation tags (Surrogate-Key, Cache-Tag) the
	// response carries.
	Tags []string
}

// Policy is the cache's settings that the explanation depends on.
type Policy struct {
	HeuristicMax  time.Duration // --heuristic-max: caps heuristic lifetimes (RFC 9111 §4.2.2)
	StaleIfError  time.Duration // --stale-if-error: the default stale-if-error (RFC 5861 §4)
	MaxObjectSize int64         // --max-object-size: the largest body stored, in bytes
}

// Report explains what is stored for one URL.
type Report struct {
	// URL is the URL explained, and Key its primary cache key (RFC 9111 §2).
	URL string `json:"url"`
	Key string `json:"key"`
	// At is the time the explanation was made: ages and freshness are as
	// of then.
	At time.Time `json:"at"`
	// Fetched is true when nothing was stored and the one variant is the
	// origin's answer to a GET made for the explanation, which was not
	// stored.
	Fetched  bool      `json:"fetched"`
	Variants []Variant `json:"variants"`
}

// Variant explains one response. Durations are in whole seconds.
type Variant struct {
	Key    string `json:"key"`
	Status int    `json:"status"`
	// Stored is true when the response is in the store; Storable when the
	// rules let it be (a fetched response that would be stored).
	Stored   bool `json:"stored"`
	Storable bool `json:"storable"`
	// NotStoredReason is why it is not storable: the Cache-Status detail.
	NotStoredReason httpcache.Reason `json:"not_stored_reason,omitempty"`
	Size            int64            `json:"size"` // -1 when not known
	// LifetimeRule is the rule that gave the freshness lifetime:
	// httpcache.LifetimeSource's names (s-maxage, max-age, expires, ...).
	LifetimeRule    string    `json:"lifetime_rule"`
	LifetimeSeconds int64     `json:"lifetime_seconds"`
	AgeSeconds      int64     `json:"age_seconds"`
	Fresh           bool      `json:"fresh"`
	StaleAt         time.Time `json:"stale_at"` // when it goes, or went, stale
	// ETag and LastModified are the validators a revalidation sends as
	// If-None-Match and If-Modified-Since (RFC 9111 §4.3.1).
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// StaleForbiddenBy names the directive that forbids serving it stale;
	// the allowances below are then void.
	StaleForbiddenBy            string `json:"stale_forbidden_by,omitempty"`
	StaleWhileRevalidateSeconds int64  `json:"stale_while_revalidate_seconds"`
	StaleIfErrorSeconds         int64  `json:"stale_if_error_seconds"`
	// Tags are the purge tags; Vary the fields it varies on, and
	// RequestFields the values of those fields that select it.
	Tags          []string `json:"tags,omitempty"`
	Vary          []string `json:"vary,omitempty"`
	RequestFields []Field  `json:"request_fields,omitempty"`
	// Lines say the above in words, one rule a line.
	Lines []Line `json:"lines"`
}

// Field is a request field a variant is selected by (RFC 9111 §4.1).
type Field struct {
	Name   string `json:"name"`
	Value  string `json:"value,omitempty"`
	Absent bool   `json:"absent,omitempty"` // selected by requests without the field
}

// Line is one rule in words, ending with the section that states it.
type Line struct {
	// Rule names the kind of line: stored, not-stored, fix, freshness,
	// next, validators, stale, stale-while-revalidate, stale-if-error,
	// tags, vary.
	Rule string `json:"rule"`
	Text string `json:"text"`
}

// Explain explains one response at now.
func Explain(r Response, p Policy, now time.Time) Variant {
	cc := httpcache.ParseResponseCacheControl(r.Header)
	lifetime, source := httpcache.FreshnessLifetimeSource(r.Header, cc, r.Status, r.ResponseTime, p.HeuristicMax)
	d := httpcache.Evaluate(nil, httpcache.Directives{}, httpcache.Stored{
		Status: r.Status, Header: r.Header, CC: cc, RequestTime: r.RequestTime, ResponseTime: r.ResponseTime,
	}, now, httpcache.Policy{HeuristicMax: p.HeuristicMax})
	e := explainer{r: r, p: p, cc: cc, lifetime: lifetime, source: source, d: d, now: now}
	v := Variant{
		Key:             r.Key,
		Status:          r.Status,
		Stored:          r.Stored,
		Storable:        r.Stored || r.NotStored == httpcache.ReasonNone,
		Size:            r.Size,
		LifetimeRule:    source.String(),
		LifetimeSeconds: seconds(lifetime.Duration),
		AgeSeconds:      seconds(d.Age),
		Fresh:           !d.Stale,
		StaleAt:         now.Add(d.TTL()).UTC(),
		Tags:            r.Tags,
		Vary:            httpcache.VaryNames(r.Header),
	}
	if !v.Storable {
		v.NotStoredReason = r.NotStored
	}
	v.ETag, v.LastModified = httpcache.ConditionalHeaders(r.Header)
	v.StaleForbiddenBy = httpcache.StaleForbiddenBy(cc)
	if v.StaleForbiddenBy == "" {
		v.StaleWhileRevalidateSeconds = seconds(cc.StaleWhileRevalidate.Value)
		v.StaleIfErrorSeconds = seconds(e.staleIfError())
	}
	v.RequestFields = requestFields(v.Vary, r.RequestHeader)

	v.Lines = append(v.Lines, e.storage(v.Storable)...)
	v.Lines = append(v.Lines, e.freshness(v.Storable)...)
	v.Lines = append(v.Lines, e.validators(v.ETag, v.LastModified))
	v.Lines = append(v.Lines, e.stale()...)
	v.Lines = append(v.Lines, e.tags(), e.vary(v.Vary, v.RequestFields))
	return v
}

// explainer holds what the lines of one response are written from.
type explainer struct {
	r        Response
	p        Policy
	cc       httpcache.Directives
	lifetime httpcache.Lifetime
	source   httpcache.LifetimeSource
	d        httpcache.Decision
	now      time.Time
}

// staleIfError is the stale-if-error allowance that applies to a request
// without its own: the response's, else the cache's default (RFC 5861 §4).
func (e *explainer) staleIfError() time.Duration {
	if e.cc.StaleIfError.Valid {
		return e.cc.StaleIfError.Value
	}
	return e.p.StaleIfError
}

// requestFields are the values of the Vary fields that select a variant.
func requestFields(names []string, req http.Header) []Field {
	var fields []Field
	for _, n := range names {
		if n == "*" {
			continue
		}
		v, ok := httpcache.NormalizeFieldValue(req, n)
		fields = append(fields, Field{Name: n, Value: v, Absent: !ok})
	}
	return fields
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }
