package memory

import "net/http"

// A stored header is kept packed into the entry's bytes, which the garbage
// collector marks without reading (they hold no pointers), instead of as an
// http.Header: a map, its slots and value slices, and every value a
// string of its own, which a collection must trace on every cycle for
// every stored entry. With hundreds of thousands of entries that tracing
// is most of the collector's work, and it grows with the cache. The map is
// rebuilt for an entry's first Get, and kept from its second on: an entry
// read at most once (most of a large cache) never keeps a map, and a hit
// on an entry read before builds nothing. The entry's weight counts the
// map it may come to keep.
//
// The packed form is, for each field: the name's length and the name, the
// number of values, and each value's length and the value. Lengths and
// counts are unsigned varints.

// packHeader packs h into a string of its own (the store appends headers
// to an entry's bytes with appendPacked; tests use this). It also returns an
// estimate of the memory the unpacked header takes (see unpackedSize). It
// returns "" for an empty header.
func packHeader(h http.Header) (packed string, unpacked int64) {
	n, values := packedLen(h)
	if n == 0 {
		return "", 0
	}
	return string(appendPacked(make([]byte, 0, n), h)), unpackedSize(len(h), values)
}

// packedLen returns how many bytes appendPacked appends for h, and how many
// values h holds.
func packedLen(h http.Header) (n, values int) {
	for name, vs := range h {
		n += uvarintLen(len(name)) + len(name) + uvarintLen(len(vs))
		for _, v := range vs {
			n += uvarintLen(len(v)) + len(v)
		}
		values += len(vs)
	}
	return n, values
}

// appendPacked appends h, packed, to b.
func appendPacked(b []byte, h http.Header) []byte {
	for name, vs := range h {
		b = appendString(b, name)
		b = appendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

// unpackedSize estimates the memory of an unpacked header of fields fields
// and values values: the map (a header and groups of eight 40-byte slots,
// filled to seven) and the array of values. The strings are the packed
// string's.
func unpackedSize(fields, values int) int64 {
	groups := (fields + 6) / 7
	return int64(48 + groups*(8+8*40) + 16*values)
}

// unpackHeader rebuilds the header packHeader packed into p. Names and
// values are substrings of p: nothing is copied but the map and one array
// for every field's values. It returns nil for "".
func unpackHeader(p string) http.Header {
	if p == "" {
		return nil
	}
	// Count first, so that the map and the values array are allocated once.
	fields, values := 0, 0
	for r := (reader{s: p}); !r.done(); fields++ {
		r.string()
		k := r.uvarint()
		values += k
		for range k {
			r.string()
		}
	}
	h := make(http.Header, fields)
	all := make([]string, values)
	r := reader{s: p}
	for !r.done() {
		name := r.string()
		k := r.uvarint()
		vs := all[:k:k]
		all = all[k:]
		for i := range vs {
			vs[i] = r.string()
		}
		h[name] = vs
	}
	return h
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

func uvarintLen(x int) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader reads what appendPacked wrote. The packed bytes are never
// modified once stored (the strings unpackHeader returns are views of
// them), and only this file writes them, so they are trusted: a malformed
// one is a bug here, and reading past its end panics.
type reader struct {
	s string
	i int
}

func (r *reader) done() bool { return r.i >= len(r.s) }

func (r *reader) uvarint() int {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		c := r.s[r.i]
		r.i++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int(x)
		}
	}
}

func (r *reader) string() string {
	n := r.uvarint()
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}
