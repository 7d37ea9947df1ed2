package memory

// This file holds the store's one aliasing trick: the strings that Get
// returns, the header's names and values and the entry's Note, are not
// copies but views of the entry's bytes (made with unsafe.String), so that
// a hit copies nothing.
//
// The contract that makes this safe:
//   - An entry's bytes are never modified once Commit has made them the
//     entry's: the bodyWriter stops writing to its buffer at Commit, and
//     removing, evicting or compacting an entry only drops a reference to
//     them. Nothing recycles them; the garbage collector frees them once
//     no view is left.
//   - Hence the views stay valid and unchanged for as long as a caller
//     keeps them, as store.Store promises for everything Get returns.
//   - The price: a view kept keeps the whole entry, body included, in
//     memory. A caller that keeps a string beyond its request (in a table
//     of its own, say) should keep a copy (strings.Clone).
//
// storetest's GetResultsStayPut, which every backend runs, fails if a
// store modifies or reuses what it handed out (TestGetResultsStayPut in
// package storetest shows it failing on a store that recycles a buffer);
// the only other use of package unsafe here is in tests.

import (
	"net/http"
	"unsafe"
)

// view returns b as a string without copying it. b must never be modified
// afterwards (see above).
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// readOnce is what refs.header holds once the entry has been read once:
// its header was unpacked for that read and not kept.
var readOnce = new(http.Header)

// unpacked returns the entry's header, packed in p: unpacked anew for the
// first read, and unpacked and kept from the second on. Concurrent reads
// may each unpack it; once one has been kept, every read returns that one.
// The names and values are substrings of p, which is never modified.
func (r *refs) unpacked(p []byte) http.Header {
	h := r.header.Load()
	if h != nil && h != readOnce {
		return *h
	}
	if len(p) == 0 {
		return nil
	}
	fresh := unpackHeader(view(p))
	if h == nil && r.header.CompareAndSwap(nil, readOnce) {
		return fresh // the first read
	}
	if r.header.CompareAndSwap(readOnce, &fresh) {
		return fresh
	}
	if h := r.header.Load(); h != readOnce {
		return *h // another read kept its map first
	}
	return fresh
}
