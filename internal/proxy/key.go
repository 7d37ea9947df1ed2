package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// primaryKey is the cache key of a request (RFC 9111 §2): scheme, host,
// path and query of the target URI. The host is lower-cased and a default
// port dropped, so that equivalent URIs share a key (RFC 9110 §4.2.3).
// Nothing else of the request enters the primary key; Vary adds a secondary
// key (see variantKey).
func primaryKey(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	target := r.RequestURI // as received: origin-form needs no rebuilding
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	return keyFor(scheme, r.Host, target)
}

func keyFor(scheme, host, requestURI string) string {
	host = strings.ToLower(host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(requestURI))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(requestURI)
	return b.String()
}

// keyOfURL is the primary key of an absolute URL, for invalidation.
func keyOfURL(u *url.URL) string {
	return keyFor(u.Scheme, u.Host, u.RequestURI())
}
