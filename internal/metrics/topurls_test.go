package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestTopURLsExactWhileFew(t *testing.T) {
	t.Parallel()
	top := NewTopURLs()
	for range 27 {
		top.Count("/hot", false)
	}
	top.Count("/hot", true)
	for _, p := range []string{"/b", "/c", "/d"} {
		top.Count(p, true)
		top.Count(p, false)
	}
	req, miss := top.Top(2)
	if len(req) != 2 || req[0] != (URLCount{Path: "/hot", Count: 28}) || req[1] != (URLCount{Path: "/b", Count: 2}) {
		t.Errorf("Top(2) requests = %+v, want /hot 28 then /b 2", req)
	}
	if len(miss) != 2 || miss[0] != (URLCount{Path: "/b", Count: 1}) || miss[1] != (URLCount{Path: "/c", Count: 1}) {
		t.Errorf("Top(2) misses = %+v, want /b 1 and /c 1", miss)
	}
}

// TestTopURLsBounded: a stream of distinct paths keeps at most
// topShards*topPerShard of them, and a frequent path among them is still
// found, with a count no lower than the truth.
func TestTopURLsBounded(t *testing.T) {
	t.Parallel()
	top := NewTopURLs()
	for i := range 100_000 {
		top.Count(fmt.Sprintf("/rare/%d", i), false)
		if i%10 == 0 {
			top.Count("/frequent", false)
		}
	}
	req, _ := top.Top(1 << 20)
	if len(req) > topShards*topPerShard {
		t.Errorf("held %d paths, want at most %d", len(req), topShards*topPerShard)
	}
	if req[0].Path != "/frequent" || req[0].Count < 10_000 {
		t.Errorf("top path = %+v, want /frequent with at least 10000", req[0])
	}
}

func TestTopURLsCutsLongPaths(t *testing.T) {
	t.Parallel()
	top := NewTopURLs()
	top.Count("/"+strings.Repeat("x", 1000), false)
	req, _ := top.Top(1)
	if len(req[0].Path) != maxPathLen {
		t.Errorf("held a path of %d bytes, want %d", len(req[0].Path), maxPathLen)
	}
	var nilTop *TopURLs
	nilTop.Count("/x", true) // counts nothing, and does not panic
}

func TestTopURLsConcurrent(t *testing.T) {
	t.Parallel()
	top := NewTopURLs()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				top.Count(fmt.Sprintf("/%d", i%20), g == 0)
			}
		})
	}
	wg.Wait()
	req, miss := top.Top(100)
	var sum, misses int64
	for _, c := range req {
		sum += c.Count
	}
	for _, c := range miss {
		misses += c.Count
	}
	if sum != 4000 || misses != 1000 {
		t.Errorf("counted %d requests and %d misses, want 4000 and 1000", sum, misses)
	}
}

func BenchmarkTopURLsCount(b *testing.B) {
	top := NewTopURLs()
	paths := make([]string, 64)
	for i := range paths {
		paths[i] = fmt.Sprintf("/static/asset-%d.js", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			top.Count(paths[i%len(paths)], false)
			i++
		}
	})
}
