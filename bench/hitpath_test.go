// Package bench holds Hoard's load harness (run.sh and its helpers) and the
// in-process benchmarks of the hit path that explain what run.sh measures.
//
// The benchmarks drive proxy.Handler.ServeHTTP directly, with a memory store
// and an httptest origin, and a response writer that discards the body, so
// that the CPU and allocation profiles show Hoard's own work on a hit and
// nothing of net/http's connection handling:
//
//	go test ./bench -run '^$' -bench Hit -benchmem -cpuprofile cpu.prof -memprofile mem.prof
package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoard-cache/hoard/internal/proxy"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// discardWriter is the cheapest http.ResponseWriter that still behaves like
// one: it keeps a header map, which reset empties but keeps allocated (as a
// long-lived connection would not: net/http makes a new map per request,
// an allocation that is the server's, not Hoard's), and counts body bytes.
type discardWriter struct {
	header http.Header
	status int
	n      int64
}

func newDiscardWriter() *discardWriter { return &discardWriter{header: make(http.Header, 16)} }

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += int64(len(p))
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// hitBench is a Handler in front of an origin that serves size bytes with
// max-age=3600 for every path, and counts its requests.
type hitBench struct {
	handler *proxy.Handler
	origin  atomic.Int64
}

func newHitBench(b *testing.B, size int) *hitBench {
	b.Helper()
	hb := &hitBench{}
	body := []byte(strings.Repeat("x", size))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hb.origin.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(body) // a short write shows as a failed prime
	}))
	b.Cleanup(srv.Close)
	originURL, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	st, err := memory.New(memory.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := proxy.New(proxy.Options{Origin: originURL, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	hb.handler = h
	return hb
}

// prime requests each path once, so that the next request of it is a hit,
// and checks that it was stored.
func (hb *hitBench) prime(b *testing.B, paths []string) {
	b.Helper()
	before := hb.origin.Load()
	for _, p := range paths {
		w := newDiscardWriter()
		hb.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://bench.example"+p, nil))
		if w.status != http.StatusOK || !strings.Contains(w.header.Get("Cache-Status"), "stored") {
			b.Fatalf("priming GET %s: status %d, Cache-Status %q; want 200 and stored",
				p, w.status, w.header.Get("Cache-Status"))
		}
	}
	if got := hb.origin.Load() - before; got != int64(len(paths)) {
		b.Fatalf("priming %d paths reached the origin %d times", len(paths), got)
	}
}

// checkHits fails b when the origin saw requests after priming: every
// benchmarked request must have been a hit.
func (hb *hitBench) checkHits(b *testing.B, primed int64) {
	b.Helper()
	if extra := hb.origin.Load() - primed; extra != 0 {
		b.Fatalf("%d benchmarked requests reached the origin; want every one a hit", extra)
	}
}

func serveHit(h http.Handler, w *discardWriter, r *http.Request) error {
	w.reset()
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", r.URL.Path, w.status)
	}
	return nil
}

// BenchmarkHit serves one hot URL from the cache, as run.sh's scenarios a,
// b and c do over the network.
func BenchmarkHit(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			hb := newHitBench(b, size.n)
			hb.prime(b, []string{"/obj/hot"})
			primed := hb.origin.Load()
			r := httptest.NewRequest(http.MethodGet, "http://bench.example/obj/hot", nil)
			w := newDiscardWriter()
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := serveHit(hb.handler, w, r); err != nil {
					b.Fatal(err)
				}
			}
			hb.checkHits(b, primed)
		})
	}
}

// BenchmarkHitParallel serves one hot 1 KiB URL from every P at once: the
// contention on the store and the handler's shared state.
func BenchmarkHitParallel(b *testing.B) {
	hb := newHitBench(b, 1<<10)
	hb.prime(b, []string{"/obj/hot"})
	primed := hb.origin.Load()
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "http://bench.example/obj/hot", nil)
		w := newDiscardWriter()
		for pb.Next() {
			if err := serveHit(hb.handler, w, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	hb.checkHits(b, primed)
}

// BenchmarkHitSpread serves 10,000 stored 1 KiB URLs in turn, as run.sh's
// scenario d does: the store's lookups no longer stay in the CPU's caches.
func BenchmarkHitSpread(b *testing.B) {
	const urls = 10000
	hb := newHitBench(b, 1<<10)
	paths := make([]string, urls)
	requests := make([]*http.Request, urls)
	for i := range paths {
		paths[i] = "/obj/set-" + strconv.Itoa(i)
		requests[i] = httptest.NewRequest(http.MethodGet, "http://bench.example"+paths[i], nil)
	}
	hb.prime(b, paths)
	primed := hb.origin.Load()
	w := newDiscardWriter()
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A stride coprime with urls visits every URL, in an order that
		// is not the order they were stored in.
		i = (i + 7919) % urls
		if err := serveHit(hb.handler, w, requests[i]); err != nil {
			b.Fatal(err)
		}
	}
	hb.checkHits(b, primed)
}

// BenchmarkFootprint stores 20,000 distinct 1 KiB responses through the
// handler and reports the live heap they take, per object, after a full
// garbage collection: the memory side of run.sh's scenario g, without the
// garbage a running server also carries (see README). It reports it again
// after one hit on every object (read1-B/object) and after a second
// (read2-B/object): the memory store keeps an entry's header packed until
// its second read.
func BenchmarkFootprint(b *testing.B) {
	const objects = 20000
	for b.Loop() {
		hb := newHitBench(b, 1<<10)
		paths := make([]string, objects)
		for i := range paths {
			paths[i] = "/obj/footprint-" + strconv.Itoa(i)
		}
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		perObject := func() float64 {
			var now runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&now)
			return float64(now.HeapAlloc-before.HeapAlloc) / objects
		}
		hb.prime(b, paths)
		primed := hb.origin.Load()
		b.ReportMetric(perObject(), "heap-B/object")
		w := newDiscardWriter()
		for _, metric := range []string{"read1-B/object", "read2-B/object"} {
			for _, p := range paths {
				if err := serveHit(hb.handler, w, httptest.NewRequest(http.MethodGet, "http://bench.example"+p, nil)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perObject(), metric)
		}
		hb.checkHits(b, primed)
		runtime.KeepAlive(hb)
	}
}
