package proxy

import (
	"net/http"
	"sync"
)

// A cache of many small objects keeps many header fields whose values repeat
// from one response to the next: Content-Type, Cache-Control, Server, Vary,
// and even Date, shared by every response of the same second. valueTable
// lets stored headers share one []string per such value instead of each
// keeping its own copy: about 140 bytes per stored response with a typical
// header, and fewer objects for the garbage collector to trace.
//
// Only the fields of sharedFields are shared, and only single values of at
// most maxSharedValue bytes: fields unique to a response (ETag,
// Last-Modified, Content-Length of varied sizes) would only fill the table.
// Shared slices are never modified, like every stored header.

// maxSharedValues bounds a valueTable; when full, it starts afresh.
const maxSharedValues = 4096

// maxSharedValue is the longest value a valueTable shares.
const maxSharedValue = 128

// sharedFields are the fields, in canonical form, whose values are shared.
var sharedFields = map[string]bool{
	"Accept-Ranges":                    true,
	"Access-Control-Allow-Credentials": true,
	"Access-Control-Allow-Origin":      true,
	"Access-Control-Expose-Headers":    true,
	"Cache-Control":                    true,
	"Cdn-Cache-Control":                true,
	"Content-Encoding":                 true,
	"Content-Language":                 true,
	"Content-Type":                     true,
	"Cross-Origin-Resource-Policy":     true,
	"Date":                             true,
	"Expires":                          true,
	"Pragma":                           true,
	"Referrer-Policy":                  true,
	"Server":                           true,
	"Strict-Transport-Security":        true,
	"Timing-Allow-Origin":              true,
	"Vary":                             true,
	"X-Content-Type-Options":           true,
	"X-Frame-Options":                  true,
}

type fieldValue struct{ name, value string }

// valueTable shares the values of stored header fields. Its zero value is
// ready to use.
type valueTable struct {
	mu sync.Mutex
	m  map[fieldValue][]string // guarded by mu
}

// share replaces, in h, the values of sharedFields with the table's copies,
// adding those it does not have yet, and moves the other values to one
// array of their own, so that the array h's values were cloned into (one
// for all its fields) is not kept alive by a few of them. h must be a
// header no one else uses yet (a stored header being built).
func (t *valueTable) share(h http.Header) {
	rest := 0
	t.mu.Lock()
	for name, vs := range h {
		if !shareable(name, vs) {
			rest += len(vs)
			continue
		}
		key := fieldValue{name, vs[0]}
		if shared, ok := t.m[key]; ok {
			h[name] = shared
			continue
		}
		if t.m == nil || len(t.m) >= maxSharedValues {
			t.m = make(map[fieldValue][]string, 64)
		}
		// A slice of its own, so that the table does not pin the backing
		// array of h's other values.
		shared := []string{vs[0]}
		t.m[key] = shared
		h[name] = shared
	}
	t.mu.Unlock()
	if rest == 0 {
		return
	}
	own := make([]string, 0, rest)
	for name, vs := range h {
		if shareable(name, vs) {
			continue
		}
		start := len(own)
		own = append(own, vs...)
		h[name] = own[start:len(own):len(own)]
	}
}

func shareable(name string, vs []string) bool {
	return len(vs) == 1 && len(vs[0]) <= maxSharedValue && sharedFields[name]
}
