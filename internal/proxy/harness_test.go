package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/memory"
)

// fakeClock is a clock the test moves by hand, starting at a whole second.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// origin is a scripted origin server that counts and records requests.
type origin struct {
	srv      *httptest.Server
	clock    *fakeClock // stamps Date, as a real origin does with its own clock
	count    atomic.Int64
	mu       sync.Mutex
	requests []*http.Request // guarded by mu; bodies not kept
}

func newOrigin(t *testing.T, clock *fakeClock, handler http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{clock: clock}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.count.Add(1)
		if o.clock != nil {
			w.Header().Set("Date", o.clock.Now().UTC().Format(http.TimeFormat))
		}
		o.mu.Lock()
		o.requests = append(o.requests, r.Clone(r.Context()))
		o.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.requests) == 0 {
		return nil
	}
	return o.requests[len(o.requests)-1]
}

// harness is Hoard in front of an origin, both on real sockets.
type harness struct {
	t      *testing.T
	origin *origin
	clock  *fakeClock
	store  *memory.Store
	proxy  *Handler
	front  *httptest.Server
}

func newHarness(t *testing.T, handler http.HandlerFunc, opts ...func(*Options)) *harness {
	t.Helper()
	clock := newFakeClock()
	o := newOrigin(t, clock, handler)
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(o.srv.URL)
	opt := Options{Origin: u, Store: st, Clock: clock.Now}
	for _, f := range opts {
		f(&opt)
	}
	p, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	// The front end serves as hoard serve does, on a Listener's
	// connections, so that every test also runs through gatherConn.
	front := httptest.NewUnstartedServer(p)
	front.Listener = Listener(front.Listener)
	front.Config.ConnContext = ConnContext
	front.Start()
	t.Cleanup(front.Close)
	return &harness{t: t, origin: o, clock: clock, store: st, proxy: p, front: front}
}

// result is what a client saw.
type result struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(method, path string, header ...string) result {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.front.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := h.front.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (h *harness) get(path string, header ...string) result {
	h.t.Helper()
	return h.do(http.MethodGet, path, header...)
}

// expect checks status, body and the start of Cache-Status.
func (r result) expect(t *testing.T, status int, body, cacheStatus string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (Cache-Status %q)", r.status, status, r.header.Get("Cache-Status"))
	}
	if body != "" && r.body != body {
		t.Errorf("body = %q, want %q", r.body, body)
	}
	if cs := r.header.Get("Cache-Status"); !strings.HasPrefix(cs, cacheStatus) {
		t.Errorf("Cache-Status = %q, want prefix %q", cs, cacheStatus)
	}
}

func (h *harness) wantOrigin(n int64) {
	h.t.Helper()
	if got := h.origin.count.Load(); got != n {
		h.t.Errorf("origin requests = %d, want %d", got, n)
	}
}
