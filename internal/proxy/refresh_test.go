package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/disk"
	"github.com/hoard-cache/hoard/internal/store/memory"
	redisstore "github.com/hoard-cache/hoard/internal/store/redis"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// gatedStore is a store whose next Get, once armed, returns a body that
// gives its first read at once and holds every later one until the test
// opens the gate: the background fill of a refreshed response reads the
// stored body at a pace the test sets.
type gatedStore struct {
	store.Store
	mu    sync.Mutex
	armed *gatedBody // guarded by mu; the body the next Get returns, nil once taken
}

// arm makes the next Get's body a gated one, and returns it.
func (s *gatedStore) arm() *gatedBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = &gatedBody{gate: make(chan struct{})}
	return s.armed
}

func (s *gatedStore) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	e, body, err := s.Store.Get(ctx, key)
	if err != nil || e.Size == 0 { // a miss, or a variant index
		return e, body, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.armed
	if g == nil {
		return e, body, err
	}
	s.armed = nil
	g.ReadCloser = body
	return e, g, nil
}

// gatedBody holds its reads after the first until open is called, and
// counts its closes. It has only Read and Close, so that nothing reads
// around the gate.
type gatedBody struct {
	io.ReadCloser
	gate   chan struct{}
	once   sync.Once
	reads  atomic.Int64
	closes atomic.Int64
}

// open lets the held reads go on; calling it again does nothing.
func (g *gatedBody) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedBody) Read(p []byte) (int, error) {
	if g.reads.Add(1) > 1 {
		<-g.gate
	}
	return g.ReadCloser.Read(p)
}

func (g *gatedBody) Close() error {
	g.closes.Add(1)
	return g.ReadCloser.Close()
}

// TestRefreshOutlivesTheRequest: a stored response larger than a buffer
// goes stale, the origin answers its validation with 304 and new fields,
// and the request is done before the background fill has read the stored
// body (a HEAD, a client whose own condition is answered with 304, a
// client that hangs up after the head), or reads it whole. The refreshed
// response is stored whole, with the 304's fields, and its stored body is
// closed once. Before, serveCacheable closed the stored body it had handed
// to the fill when the request returned: the fill's next read failed, the
// refresh was aborted and the next request validated again. Even with a
// client that read it all, the body was closed twice, by the request and by
// the fill, with nothing ordering the two (a data race on store.Body).
func TestRefreshOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		open func(t *testing.T, clock func() time.Time) store.Store
	}{
		{"memory", func(t *testing.T, clock func() time.Time) store.Store {
			st, err := memory.New(memory.Options{MaxBytes: 64 << 20, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"disk", func(t *testing.T, clock func() time.Time) store.Store {
			st, err := disk.Open(disk.Options{Path: t.TempDir(), Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"redis", func(t *testing.T, clock func() time.Time) store.Store {
			return openRedis(t, clock)
		}},
		{"tiered", func(t *testing.T, clock func() time.Time) store.Store {
			front, err := memory.New(memory.Options{MaxBytes: 64 << 20, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { front.Close() })
			return tiered.New(front, openRedis(t, clock), nil)
		}},
	}
	body := patterned(256 << 10) // more than one buffer: filled in the background
	// Each request is done with before the fill reads on, except the
	// client that reads the whole body, which opens the gate first.
	type request func(t *testing.T, h *harness, g *gatedBody)
	requests := []struct {
		name string
		do   request
	}{
		{"HEAD", func(t *testing.T, h *harness, _ *gatedBody) {
			h.do(http.MethodHead, "/doc").expect(t, 200, "", "hoard; fwd=stale; fwd-status=304")
		}},
		{"client's own validator answered 304", func(t *testing.T, h *harness, _ *gatedBody) {
			h.get("/doc", "If-None-Match", `"v1"`).expect(t, 304, "", "hoard; fwd=stale; fwd-status=304")
		}},
		{"client reads the whole body", func(t *testing.T, h *harness, g *gatedBody) {
			g.open()
			got := h.get("/doc")
			got.expect(t, 200, "", "hoard; fwd=stale; fwd-status=304")
			if !bytes.Equal([]byte(got.body), body) {
				t.Errorf("refreshed response: %d bytes, not the stored %d", len(got.body), len(body))
			}
		}},
		{"client hangs up after the head", func(t *testing.T, h *harness, _ *gatedBody) {
			addr := strings.TrimPrefix(h.front.URL, "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /doc HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			head, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if head.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", head.StatusCode)
			}
		}},
	}
	for _, st := range stores {
		for _, rq := range requests {
			t.Run(st.name+"/"+rq.name, func(t *testing.T) {
				t.Parallel()
				var gated *gatedStore
				var origin atomic.Int64
				h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("ETag", `"v1"`)
					if origin.Add(1) > 1 && r.Header.Get("If-None-Match") == `"v1"` {
						w.Header().Set("Cache-Control", "max-age=600")
						w.Header().Set("X-Version", "2")
						w.WriteHeader(http.StatusNotModified)
						return
					}
					w.Header().Set("Cache-Control", "max-age=60")
					w.Header().Set("X-Version", "1")
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					w.Write(body)
				}, func(o *Options) {
					gated = &gatedStore{Store: st.open(t, o.Clock)}
					o.Store = gated
				})
				// The harness's front end, but one that says when the
				// proxy's ServeHTTP has returned (or panicked).
				served := make(chan struct{}, 1)
				h.front = newFrontEnd(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer func() { served <- struct{}{} }()
					h.proxy.ServeHTTP(w, r)
				}))

				first := h.get("/doc")
				first.expect(t, 200, "", "hoard; fwd=uri-miss; fwd-status=200")
				<-served
				h.proxy.background.Wait()
				h.clock.Advance(61 * time.Second)

				g := gated.arm()
				rq.do(t, h, g)
				<-served // the request is over
				g.open()
				h.proxy.background.Wait() // the fill is over

				if n := g.closes.Load(); n != 1 {
					t.Errorf("the stored body was closed %d times, want once", n)
				}
				next := h.get("/doc")
				<-served
				next.expect(t, 200, "", "hoard; hit")
				if !bytes.Equal([]byte(next.body), body) {
					t.Errorf("next request: %d bytes, not the stored %d", len(next.body), len(body))
				}
				if got := next.header.Get("X-Version"); got != "2" {
					t.Errorf("next request: X-Version %q, want the 304's 2", got)
				}
				if got := next.header.Get("Cache-Control"); got != "max-age=600" {
					t.Errorf("next request: Cache-Control %q, want the 304's max-age=600", got)
				}
				h.wantOrigin(2)
			})
		}
	}
}

// openRedis returns a Redis store on a redis-server of t's own.
func openRedis(t *testing.T, clock func() time.Time) store.Store {
	t.Helper()
	st, err := redisstore.New(redisstore.Options{URL: "redis://" + redistest.Start(t) + "/0", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
