// Command origin is the benchmark origin that every proxy under test sits in
// front of. It answers from memory, so that a benchmark measures the proxy,
// and counts the requests that reach it, so that a benchmark can tell a hit
// from a miss.
//
//	GET  /obj/<size>/<anything>      <size> bytes (suffix k or m: 1k, 16k, 1m), max-age=3600
//	GET  /nocache/<size>/<anything>  the same, for cold misses: callers make every URL unique
//	GET  /slow/<anything>            waits one second, then answers a small body, max-age=3600
//	GET  /_count                     the number of requests counted so far, as decimal text
//	POST /_reset                     sets the count to zero
//
// Every request but /_count and /_reset is counted, including ones that fail.
// It must stay free of caching logic of its own: it always answers in full.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// maxSize bounds the bodies the origin serves; they are slices of one
// buffer of this size.
const maxSize = 64 << 20

// slowDelay is how long /slow/ waits before answering.
const slowDelay = time.Second

func main() {
	listen := flag.String("listen", "127.0.0.1:19000", "address to listen on")
	flag.Parse()

	o := newOrigin()
	srv := &http.Server{
		Addr:              *listen,
		Handler:           o,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		log.Fatalf("origin: %v", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("origin: shutdown: %v", err)
	}
}

// origin is the handler. It is safe for concurrent use.
type origin struct {
	body     []byte // maxSize deterministic bytes; responses are prefixes of it
	requests atomic.Int64
}

func newOrigin() *origin {
	// A repeating printable pattern whose period (251, a prime) is not a
	// power of two, so that no layer can deduplicate blocks by accident.
	const pattern = "hoard-bench-origin-0123456789abcdefghijklmnopqrstuvwxyz"
	const period = 251
	block := make([]byte, period)
	for i := range block {
		block[i] = pattern[i%len(pattern)]
	}
	return &origin{body: bytes.Repeat(block, maxSize/period+1)[:maxSize]}
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_count":
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "%d\n", o.requests.Load())
		return
	case "/_reset":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		o.requests.Store(0)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	o.requests.Add(1)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET or HEAD only", http.StatusMethodNotAllowed)
		return
	}
	switch first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); first {
	case "obj", "nocache":
		sizeText, _, _ := strings.Cut(rest, "/")
		size, err := parseSize(sizeText)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		o.writeBody(w, r, size)
	case "slow":
		select {
		case <-time.After(slowDelay):
		case <-r.Context().Done():
			return // the proxy gave up; nobody reads an answer
		}
		o.writeBody(w, r, 16)
	default:
		http.NotFound(w, r)
	}
}

// writeBody answers with the first size bytes of the pattern, cacheable for
// an hour.
func (o *origin) writeBody(w http.ResponseWriter, r *http.Request, size int) {
	h := w.Header()
	h.Set("Cache-Control", "max-age=3600")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// A client that hangs up mid-body is not the origin's concern.
	_, _ = bytes.NewReader(o.body[:size]).WriteTo(w)
}

// parseSize reads a body size: decimal bytes with an optional k (KiB) or m
// (MiB) suffix, at most maxSize.
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want digits with an optional k or m suffix", s)
	}
	if n > maxSize/mult {
		return 0, fmt.Errorf("size %q exceeds %d bytes", s, maxSize)
	}
	return n * mult, nil
}
