package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hoard-cache/hoard/internal/httpcache"
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

// variantSep separates a primary key from the secondary key in the store
// key of a response that has Vary. A NUL cannot occur in a request target.
const variantSep = "\x00"

// variantKey is the store key of a response with Vary: the primary key, then
// the nominated field names with this request's values (RFC 9111 §4.1).
func variantKey(primary string, names []string, req http.Header) string {
	return primary + variantSep + httpcache.SecondaryKey(names, req)
}

// variantMatches reports whether a request selects the variant stored under
// key vk: the secondary key carries the field names, so the request's
// secondary key for those names must be the same string.
func variantMatches(primary, vk string, req http.Header) bool {
	secondary, ok := strings.CutPrefix(vk, primary+variantSep)
	if !ok {
		return false
	}
	var names []string
	for _, member := range strings.Split(secondary, "&") {
		name, _, _ := strings.Cut(member, "=")
		n, err := url.QueryUnescape(name)
		if err != nil || n == "" {
			return false
		}
		names = append(names, n)
	}
	return httpcache.SecondaryKey(names, req) == secondary
}
