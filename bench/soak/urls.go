//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// class is a family of URLs, /NAME/N, whose responses carry one
// Cache-Control. Every body is a function of its path alone, so a client
// knows what it must receive.
type class struct {
	name         string
	cacheControl string
	etag         bool // the origin sends an ETag and answers If-None-Match with 304
	count        int  // URLs in the class: /NAME/0 to /NAME/count-1
	weight       int  // how often a client picks the class
	minSize      int
	maxSize      int
	// maxAge is the response's freshness; staleIfError how long past it
	// Hoard may serve it when the origin fails: the response's own
	// stale-if-error, or Hoard's --stale-if-error (hoardStaleIfError).
	// Zero for a response that is not stored.
	maxAge, staleIfError time.Duration
}

// hoardStaleIfError is the --stale-if-error the driver gives Hoard.
const hoardStaleIfError = 20 * time.Second

var classes = []class{
	{name: "ma", cacheControl: "max-age=30", count: 200, weight: 30, maxSize: 16 << 10,
		maxAge: 30 * time.Second, staleIfError: hoardStaleIfError},
	{name: "swe", cacheControl: "max-age=2, stale-if-error=60", count: 200, weight: 30, maxSize: 16 << 10,
		maxAge: 2 * time.Second, staleIfError: 60 * time.Second},
	{name: "etag", cacheControl: "max-age=1", etag: true, count: 200, weight: 20, maxSize: 16 << 10,
		maxAge: time.Second, staleIfError: hoardStaleIfError},
	{name: "ns", cacheControl: "no-store", count: 100, weight: 10, maxSize: 8 << 10},
	{name: "big", cacheControl: "max-age=30", count: 40, weight: 10, minSize: 128 << 10, maxSize: 1 << 20,
		maxAge: 30 * time.Second, staleIfError: hoardStaleIfError},
}

// classOf returns the class of path, /NAME/N.
func classOf(path string) (*class, bool) {
	name, n, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return nil, false
	}
	for i := range classes {
		c := &classes[i]
		if c.name == name {
			if k, err := strconv.Atoi(n); err == nil && k >= 0 && k < c.count {
				return c, true
			}
		}
	}
	return nil, false
}

// randomPath picks a URL: a class by weight, then one of its URLs.
func randomPath(r *rand.Rand, only func(*class) bool) string {
	total := 0
	for i := range classes {
		if only == nil || only(&classes[i]) {
			total += classes[i].weight
		}
	}
	pick := r.IntN(total)
	for i := range classes {
		c := &classes[i]
		if only != nil && !only(c) {
			continue
		}
		if pick < c.weight {
			return "/" + c.name + "/" + strconv.Itoa(r.IntN(c.count))
		}
		pick -= c.weight
	}
	panic("unreachable")
}

// seedOf is the path's hash, which its body and its framing derive from.
func seedOf(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64()
}

// bodyOf returns the body of path: its length and bytes drawn from a
// generator seeded by the path.
func bodyOf(path string) []byte {
	c, ok := classOf(path)
	if !ok {
		return nil
	}
	seed := seedOf(path)
	r := rand.New(rand.NewPCG(seed, seed>>7))
	n := c.minSize
	if c.maxSize > c.minSize {
		n += r.IntN(c.maxSize - c.minSize + 1)
	}
	b := make([]byte, (n+7)/8*8)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// etagOf is the entity tag of path's body.
func etagOf(path string) string {
	sum := sha256.Sum256(bodyOf(path))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// chunkedFor reports whether the origin sends path's body chunked rather
// than with a Content-Length: about a third of the URLs.
func chunkedFor(path string) bool { return seedOf(path)%3 == 0 }

// expected is what a client must receive for a path.
type expected struct {
	size int
	sum  [sha256.Size]byte
}

var expectedCache sync.Map // path → expected

func expectedOf(path string) expected {
	if e, ok := expectedCache.Load(path); ok {
		return e.(expected)
	}
	b := bodyOf(path)
	e := expected{size: len(b), sum: sha256.Sum256(b)}
	expectedCache.Store(path, e)
	return e
}
