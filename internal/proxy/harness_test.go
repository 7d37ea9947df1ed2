package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/clocktest"
	"github.com/hoard-cache/hoard/internal/front"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// testOrigin is a scripted origin server that counts and records requests.
type testOrigin struct {
	srv      *httptest.Server
	clock    *clocktest.Clock // stamps Date, as a real origin does with its own clock
	count    atomic.Int64
	mu       sync.Mutex
	requests []*http.Request // guarded by mu; bodies not kept
}

func newOrigin(t *testing.T, clock *clocktest.Clock, handler http.HandlerFunc) *testOrigin {
	t.Helper()
	o := &testOrigin{clock: clock}
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

func (o *testOrigin) last() *http.Request {
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
	origin *testOrigin
	clock  *clocktest.Clock
	store  *memory.Store
	proxy  *Handler
	front  *frontEnd
}

// frontEnd serves a handler as hoard serve does: plain requests on the
// front end's own connections, the others handed to net/http.
type frontEnd struct {
	URL      string
	Listener net.Listener
	srv      *front.Server
	client   *http.Client
	served   chan error
}

func newFrontEnd(t *testing.T, h http.Handler) *frontEnd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &frontEnd{
		URL:      "http://" + ln.Addr().String(),
		Listener: ln,
		srv:      front.New(&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}, nil),
		client:   &http.Client{Transport: &http.Transport{}},
		served:   make(chan error, 1),
	}
	go func() { f.served <- f.srv.Serve(ln) }()
	t.Cleanup(f.Close)
	return f
}

func (f *frontEnd) Client() *http.Client { return f.client }

// Close shuts the server down, waiting for the requests in flight, as
// httptest.Server.Close does.
func (f *frontEnd) Close() {
	if f.served == nil {
		return
	}
	f.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		f.srv.Close()
	}
	<-f.served
	f.served = nil
}

func newHarness(t *testing.T, handler http.HandlerFunc, opts ...func(*Options)) *harness {
	t.Helper()
	clock := clocktest.New(time.Now().Truncate(time.Second)) // a whole second, as Date carries
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
	// Served as hoard serve does, so that every test also runs through
	// the front end.
	return &harness{t: t, origin: o, clock: clock, store: st, proxy: p, front: newFrontEnd(t, p)}
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
