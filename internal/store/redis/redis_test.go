package redisstore

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// newStore returns a store on the Redis at addr, under a prefix of its own
// so that stores sharing one server are independent, closed at cleanup.
func newStore(t testing.TB, addr string, opts Options) *Store {
	t.Helper()
	if opts.URL == "" && len(opts.Addrs) == 0 {
		opts.URL = "redis://" + addr + "/0"
	}
	if opts.Prefix == "" {
		opts.Prefix = "test:" + strings.NewReplacer("{", "(", "}", ")").Replace(t.Name()) + ":"
	}
	// The suite runs beside every other package's tests on two shared
	// cores, under the race detector: give I/O room unless a test is
	// about timeouts itself.
	if opts.ReadTimeout == 0 && opts.WriteTimeout == 0 {
		opts.ReadTimeout, opts.WriteTimeout = 10*time.Second, 10*time.Second
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"defaults", Options{}},
		// Odd, small chunks: every body past a KiB takes the chunked path.
		{"small chunks", Options{ChunkSize: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, addr, tt.opts) })
		})
	}
}

// TestConformanceCluster runs the suite through a cluster client, against a
// one-node Redis Cluster: a command that spanned two slots would fail.
func TestConformanceCluster(t *testing.T) {
	addr := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, addr, Options{Addrs: []string{addr}, ChunkSize: 4096})
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"URL with Addrs", Options{URL: "redis://h:1", Addrs: []string{"h:2"}}, "Options.Addrs"},
		{"unparseable URL", Options{URL: "http://h:1"}, "redis store: URL: "},
		{"empty cluster address", Options{Addrs: []string{"h:1", ""}}, "Options.Addrs"},
		{"prefix with a hash tag", Options{Prefix: "a{b}:"}, "Options.Prefix"},
		{"negative MaxObjectSize", Options{MaxObjectSize: -1}, "Options.MaxObjectSize"},
		{"negative ChunkSize", Options{ChunkSize: -1}, "Options.ChunkSize"},
		{"ChunkSize past Redis's limit", Options{ChunkSize: 1 << 30}, "Options.ChunkSize"},
		{"negative DialTimeout", Options{DialTimeout: -time.Second}, "Options.DialTimeout"},
		{"negative ReadTimeout", Options{ReadTimeout: -time.Second}, "Options.ReadTimeout"},
		{"negative WriteTimeout", Options{WriteTimeout: -time.Second}, "Options.WriteTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) = nil error, want one naming %s", tt.opts, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("New(%+v) error = %q, want it to name %s", tt.opts, err, tt.field)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{MaxObjectSize: 1000})
	w, err := s.Put(t.Context(), "k", store.Entry{Status: 200})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := w.Write(make([]byte, 600)); err != nil {
		t.Fatalf("Write(600 bytes): %v", err)
	}
	if _, err := w.Write(make([]byte, 600)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Write past MaxObjectSize error = %v, want ErrTooLarge", err)
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit after ErrTooLarge = %v, want ErrTooLarge", err)
	}
	checkNotFound(t, s, "k")
}

// TestExpiresByClock pins that Get hides an entry whose Expires has passed
// by Options.Clock, even while Redis still holds it.
func TestExpiresByClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, redistest.Start(t), Options{Clock: func() time.Time { return now }})
	e := store.Entry{Status: 200, Expires: now.Add(time.Minute)}
	storetest.Put(t, s, "k", e, []byte("body"))
	if _, body := storetest.Get(t, s, "k"); string(body) != "body" {
		t.Fatalf("body = %q, want %q", body, "body")
	}
	now = now.Add(time.Minute)
	checkNotFound(t, s, "k")
}

func checkNotFound(t testing.TB, s *Store, key string) {
	t.Helper()
	if _, body, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		if err == nil {
			body.Close()
		}
		t.Errorf("Get(%s) error = %v, want ErrNotFound", key, err)
	}
}

// sampleEntry returns an entry that lives an hour, with tags.
func sampleEntry(tags ...string) store.Entry {
	now := time.Now()
	return store.Entry{
		Status:       http.StatusOK,
		Header:       http.Header{"Content-Type": {"text/plain"}},
		ResponseTime: now,
		Tags:         tags,
		Expires:      now.Add(time.Hour),
	}
}

// patternBody returns n bytes that differ at every offset modulo 251.
func patternBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func TestBodyReaderAt(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{ChunkSize: 1000})
	body := patternBody(5000)
	storetest.Put(t, s, "k", sampleEntry(), body)
	_, rc, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		t.Fatalf("body %T does not implement io.ReaderAt", rc)
	}
	p := make([]byte, 1500)
	if n, err := ra.ReadAt(p, 900); n != len(p) || err != nil {
		t.Fatalf("ReadAt(1500 bytes at 900) = %d, %v", n, err)
	}
	if !bytes.Equal(p, body[900:2400]) {
		t.Errorf("ReadAt across chunks returned other bytes")
	}
}
