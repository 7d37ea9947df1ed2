package httpcache

import "net/http"

// unsharedFields are the response fields Hoard never stores: what they
// carry is for the client whose request brought the response, and for no
// other. Set-Cookie gives that client its cookie (RFC 6265 §4.1), often a
// session; a stored copy would give one client's session to every client
// served the response. RFC 9111 §7.3 notes that Set-Cookie does not
// inhibit caching and leaves it to origins to say no-cache="Set-Cookie" or
// private="Set-Cookie"; a shared cache in front of origins that forget
// cannot rely on that.
//
// This departs from RFC 9111 §3.1, which has a cache store every field it
// is not told to leave out: the cache-tests case headers-store-Set-Cookie
// expects the stored cookie to be served, and fails.
var unsharedFields = [...]string{"Set-Cookie"}

// HasUnshared reports whether h holds a field that is one client's alone
// (Set-Cookie), which a shared cache neither stores nor serves to another.
func HasUnshared(h http.Header) bool {
	for _, name := range unsharedFields {
		if _, ok := h[name]; ok {
			return true
		}
	}
	return false
}

// RemoveUnshared deletes from h the fields that are one client's alone.
func RemoveUnshared(h http.Header) {
	for _, name := range unsharedFields {
		delete(h, name)
	}
}

// CopyUnshared sets in dst the fields of src that are one client's alone,
// for the client whose request src answers.
func CopyUnshared(dst, src http.Header) {
	for _, name := range unsharedFields {
		if vs, ok := src[name]; ok {
			dst[name] = vs
		}
	}
}
