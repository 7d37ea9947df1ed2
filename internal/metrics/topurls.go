package metrics

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// TopURLs counts the most requested and the most missed URL paths in
// bounded memory, for the admin dashboard. It is never a metric label.
//
// Each count is a space-saving summary (Metwally, Agrawal and El Abbadi,
// "Efficient Computation of Frequent and Top-k Elements in Data Streams",
// 2005) of a fixed number of entries: a path not held takes the place of
// the least counted one and inherits its count as its error, so a path
// more frequent than 1/capacity of the stream is always held, and no count
// is ever below the truth.
//
// What is counted is the URL path alone: never the query, which may carry
// a token or a password, nor the host. A path is cut to maxPathLen bytes.
//
// The summaries are split into shards by a hash of the path, each with its
// own lock, so requests for different paths rarely wait for one another.
// A path always goes to the same shard, so the shards hold disjoint paths
// and merging them is a union. A nil *TopURLs counts nothing.
type TopURLs struct {
	seed   maphash.Seed
	shards [topShards]topShard
}

const (
	topShards   = 16
	topPerShard = 32 // 512 paths held in all, per summary
	maxPathLen  = 256
)

type topShard struct {
	mu       sync.Mutex // guards requests, misses
	requests summary
	misses   summary
	_        [64]byte // keeps neighbouring shards' locks off one cache line
}

// URLCount is one path of a TopURLs summary.
type URLCount struct {
	Path  string `json:"path"`
	Count int64  `json:"count"`
	// Error bounds how much of Count may belong to the paths this one
	// replaced: the true count is between Count-Error and Count.
	Error int64 `json:"error"`
}

// NewTopURLs returns an empty TopURLs.
func NewTopURLs() *TopURLs { return &TopURLs{seed: maphash.MakeSeed()} }

// Count counts one request for path, and a miss when miss is set.
func (t *TopURLs) Count(path string, miss bool) {
	if t == nil {
		return
	}
	if len(path) > maxPathLen {
		path = path[:maxPathLen]
	}
	s := &t.shards[maphash.String(t.seed, path)%topShards]
	s.mu.Lock()
	s.requests.add(path)
	if miss {
		s.misses.add(path)
	}
	s.mu.Unlock()
}

// Top returns the n most requested paths and the n most missed ones,
// most counted first.
func (t *TopURLs) Top(n int) (requests, misses []URLCount) {
	if t == nil {
		return nil, nil
	}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		requests = s.requests.appendTo(requests)
		misses = s.misses.appendTo(misses)
		s.mu.Unlock()
	}
	return topN(requests, n), topN(misses, n)
}

func topN(c []URLCount, n int) []URLCount {
	slices.SortFunc(c, func(a, b URLCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Path, b.Path))
	})
	return c[:min(n, len(c))]
}

// summary is one space-saving summary of topPerShard entries.
type summary struct {
	entries []URLCount     // at most topPerShard
	index   map[string]int // path → position in entries
}

func (s *summary) add(path string) {
	if i, ok := s.index[path]; ok {
		s.entries[i].Count++
		return
	}
	if s.index == nil {
		s.index = make(map[string]int, topPerShard)
	}
	// A new path is kept past the request: a copy of its own, so as not to
	// keep the request's memory alive.
	path = strings.Clone(path)
	if len(s.entries) < topPerShard {
		s.index[path] = len(s.entries)
		s.entries = append(s.entries, URLCount{Path: path, Count: 1})
		return
	}
	least := 0
	for i, e := range s.entries {
		if e.Count < s.entries[least].Count {
			least = i
		}
	}
	old := s.entries[least]
	delete(s.index, old.Path)
	s.index[path] = least
	s.entries[least] = URLCount{Path: path, Count: old.Count + 1, Error: old.Count}
}

func (s *summary) appendTo(c []URLCount) []URLCount { return append(c, s.entries...) }
