package httpcache

import (
	"strconv"
	"strings"
	"time"
)

// Forward is the fwd parameter of Cache-Status (RFC 9211 §2.2): why a
// request went to the origin.
type Forward string

// The fwd values of RFC 9211 §2.2.
const (
	FwdBypass   Forward = "bypass"    // the cache was not used for this request
	FwdMethod   Forward = "method"    // the request method is not cached
	FwdURIMiss  Forward = "uri-miss"  // nothing stored for the URI
	FwdVaryMiss Forward = "vary-miss" // stored variants, none matching
	FwdMiss     Forward = "miss"      // a miss of another kind
	FwdRequest  Forward = "request"   // the request's directives asked for it
	FwdStale    Forward = "stale"     // the stored response was stale
)

// CacheStatus is one member of the Cache-Status field (RFC 9211): what this
// cache did with one request.
type CacheStatus struct {
	Hit       bool
	Fwd       Forward
	FwdStatus int           // status the origin answered, 0 for none
	TTL       time.Duration // remaining freshness of the response sent, when Known
	TTLKnown  bool
	Stored    bool   // the response was stored
	Collapsed bool   // the request waited for another's origin fetch
	Detail    Reason // implementation detail
}

// String formats the member with name as the cache's identifier, for
// example `hoard; hit; ttl=42` or `hoard; fwd=uri-miss; stored`.
func (c CacheStatus) String(name string) string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(name)
	if c.Hit {
		b.WriteString("; hit")
	}
	if c.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(string(c.Fwd))
	}
	if c.FwdStatus != 0 {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(c.FwdStatus))
	}
	if c.TTLKnown {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(int64(c.TTL/time.Second), 10))
	}
	if c.Stored {
		b.WriteString("; stored")
	}
	if c.Collapsed {
		b.WriteString("; collapsed")
	}
	if c.Detail != "" {
		b.WriteString("; detail=")
		b.WriteString(string(c.Detail))
	}
	return b.String()
}
