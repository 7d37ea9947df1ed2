package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoard-cache/hoard/internal/accesslog"
	"github.com/hoard-cache/hoard/internal/front"
	"github.com/hoard-cache/hoard/internal/metrics"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// nullWriter is a ResponseWriter that keeps nothing, so that a benchmark
// measures the handler and not a recorder.
type nullWriter struct {
	h      http.Header
	status int
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(s int)           { w.status = s }

func newBenchHandler(b testing.TB, size int) *Handler {
	b.Helper()
	return newBenchHandlerLog(b, size, true)
}

// newBenchHandlerLog is newBenchHandler with the access log on or off.
func newBenchHandlerLog(b testing.TB, size int, accessLog bool) *Handler {
	b.Helper()
	body := bytes.Repeat([]byte("x"), size)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"bench"`)
		// As net/http's server sets it for a body written at once.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	st, err := memory.New(memory.Options{MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	// Metrics and an access log on, as an operator would run: the hit
	// path must not pay for them.
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{
		Origin:    &url.URL{Scheme: "http", Host: "origin.test"},
		Store:     st,
		Transport: handlerTransport{origin},
		Metrics:   m,
	}
	if accessLog {
		log := accesslog.New(io.Discard, accesslog.Combined, nil)
		b.Cleanup(func() { log.Close() })
		opts.AccessLog = log
	}
	h, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// handlerTransport answers requests with an in-process handler.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := newRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.result(r), nil
}

// BenchmarkHit measures serving a fresh stored response (the hit path).
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			h := newBenchHandler(b, size)
			req, _ := http.NewRequest(http.MethodGet, "http://hoard.test/obj", nil)
			req.RemoteAddr = "127.0.0.1:1"
			h.ServeHTTP(&nullWriter{h: http.Header{}}, req) // fill
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &nullWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}

// BenchmarkHitAccessLog is a 1 KiB hit from every P at once with the
// access log off and on: the log must not make hits contend (on/off should
// stay near 1).
func BenchmarkHitAccessLog(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			h := newBenchHandlerLog(b, 1<<10, on)
			req, _ := http.NewRequest(http.MethodGet, "http://hoard.test/obj", nil)
			req.RemoteAddr = "127.0.0.1:1"
			h.ServeHTTP(&nullWriter{h: http.Header{}}, req) // fill
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &nullWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}

// BenchmarkHitConnection is a 1 KiB hit for a request with a Connection
// field, as most clients send: "keep-alive" must cost nothing more, and a
// nominated field only the copy of the request that drops it.
func BenchmarkHitConnection(b *testing.B) {
	for _, value := range []string{"keep-alive", "keep-alive, X-Hop"} {
		b.Run(value, func(b *testing.B) {
			h := newBenchHandler(b, 1<<10)
			req, _ := http.NewRequest(http.MethodGet, "http://hoard.test/obj", nil)
			req.RemoteAddr = "127.0.0.1:1"
			req.Header.Set("Connection", value)
			req.Header.Set("X-Hop", "1")
			h.ServeHTTP(&nullWriter{h: http.Header{}}, req) // fill
			b.ReportAllocs()
			w := &nullWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkPrimaryKey measures building the cache key of a request.
func BenchmarkPrimaryKey(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://hoard.test/some/path?q=1", nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = primaryKey(req)
	}
}

// BenchmarkMiss measures a cold miss: every request a new URL, fetched from
// an in-process origin and stored.
func BenchmarkMiss(b *testing.B) {
	h := newBenchHandler(b, 1<<10)
	b.ReportAllocs()
	w := &nullWriter{h: http.Header{}}
	i := 0
	for b.Loop() {
		i++
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://hoard.test/cold/%d", i), nil)
		req.RemoteAddr = "127.0.0.1:1"
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkHitOverTCP is a 1 KiB hit over a loopback keep-alive
// connection, the request parsed and the response written by the front
// end (what hoard serve runs) or by net/http's server alone: the
// difference is the cost of the HTTP/1.1 server around the handler. The
// client reads each response whole (they are all the same length) and
// allocates nothing, so the allocations are the server's and the
// handler's.
func BenchmarkHitOverTCP(b *testing.B) {
	for _, server := range []string{"front", "net-http"} {
		b.Run(server, func(b *testing.B) {
			h := newBenchHandler(b, 1<<10)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
			if server == "front" {
				fe := front.New(srv, nil)
				go fe.Serve(ln)
				defer fe.Close()
			} else {
				go srv.Serve(ln)
				defer srv.Close()
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /obj HTTP/1.1\r\nHost: hoard.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			roundTrip := func(buf []byte) []byte {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				return buf
			}
			// The fill, then a hit to learn a hit's length.
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			br := bufio.NewReader(c)
			for range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
			}
			// The third response (a hit) is on its way: measure it.
			var n int
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				n += len(line)
				if line == "\r\n" {
					break
				}
			}
			n += 1 << 10
			if _, err := br.Discard(1 << 10); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, n)
			b.ReportAllocs()
			b.SetBytes(1 << 10)
			for b.Loop() {
				if got := roundTrip(buf); !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(got, []byte("xxxx")) {
					b.Fatalf("response %q", got)
				}
			}
		})
	}
}
