package httpcache

import (
	"net/http"
	"net/url"
)

// SafeMethod reports whether a method is safe (RFC 9110 §9.2.1). Unknown
// methods are not.
func SafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// Invalidates reports whether a response to a request with this method
// invalidates stored responses (RFC 9111 §4.4): an unsafe method (including
// an unknown one) answered with a non-error status, 2xx or 3xx.
func Invalidates(method string, status int) bool {
	return !SafeMethod(method) && status >= 200 && status < 400
}

// InvalidatedURIs returns the URIs that a response to an unsafe request on
// target invalidates besides the target itself (RFC 9111 §4.4): those of
// Location and Content-Location, resolved against target, when they have
// the same origin (scheme, host and port) as target.
func InvalidatedURIs(target *url.URL, resp http.Header) []*url.URL {
	var out []*url.URL
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := resp.Get(name)
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := target.ResolveReference(ref)
		if u.Scheme == target.Scheme && u.Host == target.Host {
			out = append(out, u)
		}
	}
	return out
}
