package memory

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/clocktest"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, Options{})
	})
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		// field is the option the error must name; empty if New succeeds.
		field string
	}{
		{"zero value is valid", Options{}, ""},
		{"small store caps the default object size", Options{MaxBytes: 1 << 20}, ""},
		{"object as large as the store", Options{MaxBytes: 1 << 20, MaxObjectSize: 1 << 20}, ""},
		{"negative MaxBytes", Options{MaxBytes: -1}, "MaxBytes"},
		{"negative MaxObjectSize", Options{MaxObjectSize: -1}, "MaxObjectSize"},
		{"object larger than the store", Options{MaxBytes: 1 << 20, MaxObjectSize: 2 << 20}, "MaxObjectSize"},
		{"object heavier than otter can weigh", Options{MaxBytes: 8 << 30, MaxObjectSize: 5 << 30}, "MaxObjectSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tt.opts)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("New(%+v) = %v, want success", tt.opts, err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded, want an error naming %s", tt.opts, tt.field)
			}
			if !strings.Contains(err.Error(), "Options."+tt.field) {
				t.Errorf("New(%+v) = %q, want an error naming Options.%s", tt.opts, err, tt.field)
			}
		})
	}
}

func TestDefaultObjectSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts Options
		want int64
	}{
		{Options{}, 16 << 20},
		{Options{MaxBytes: 1 << 20}, 1 << 20},
		{Options{MaxBytes: 1 << 30}, 16 << 20},
		{Options{MaxObjectSize: 1000}, 1000},
	}
	for _, tt := range tests {
		if got := newStore(t, tt.opts).maxObjectSize; got != tt.want {
			t.Errorf("New(%+v): MaxObjectSize = %d, want %d", tt.opts, got, tt.want)
		}
	}
}

// TestBound writes 2000 entries of 10 KiB into a 1 MiB store while a few
// hot keys are requested, as a proxy's traffic would: each request is a Get,
// and a miss is filled with a Put. One key turns hot only late.
func TestBound(t *testing.T) {
	t.Parallel()
	const (
		maxBytes = 1 << 20
		entries  = 2000
		hotKeys  = 10
	)
	s := newStore(t, Options{MaxBytes: maxBytes})
	body := bytes.Repeat([]byte("x"), 10<<10)
	request := func(key string) {
		if !tryGet(t, s, key) {
			storetest.Put(t, s, key, store.Entry{}, body)
		}
	}
	hot := make([]string, hotKeys)
	for i := range hot {
		hot[i] = fmt.Sprintf("hot/%d", i)
	}
	for i := range entries {
		request(fmt.Sprintf("cold/%d", i))
		if i == entries*3/4 {
			hot = append(hot, "late")
		}
		if i%10 == 0 {
			for _, key := range hot {
				request(key)
			}
		}
	}
	if got := s.Bytes(); got > maxBytes {
		t.Errorf("Bytes() = %d, want at most MaxBytes %d", got, maxBytes)
	}
	if got, most := s.Len(), maxBytes/len(body); got > most {
		t.Errorf("Len() = %d, want at most %d entries of %d bytes", got, most, len(body))
	}
	// SIEVE keeps a key read again before the hand reaches it.
	if !tryGet(t, s, "late") {
		t.Errorf("a key that turned hot late was not kept")
	}
	survived := 0
	for _, key := range hot[:hotKeys] {
		if tryGet(t, s, key) {
			survived++
		}
	}
	if survived < hotKeys*8/10 {
		t.Errorf("%d of %d hot keys survived, want at least %d", survived, hotKeys, hotKeys*8/10)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t, Options{MaxObjectSize: 1000})
	storetest.Put(t, s, "k", store.Entry{Status: 200}, []byte("old"))
	storetest.Put(t, s, "exact", store.Entry{}, make([]byte, 1000))

	w, err := s.Put(ctx, "k", store.Entry{Status: 201})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := w.Write(make([]byte, 600)); err != nil {
		t.Fatalf("Write(600 of 1000 bytes): %v", err)
	}
	if n, err := w.Write(make([]byte, 401)); !errors.Is(err, store.ErrTooLarge) || n != 0 {
		t.Fatalf("Write(past 1000 bytes) = %d, %v, want 0, ErrTooLarge", n, err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Errorf("Write after ErrTooLarge succeeded, want an error")
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit after ErrTooLarge = %v, want ErrTooLarge", err)
	}
	w.Abort()
	if e, body := mustGet(t, s, "k"); e.Status != 200 || string(body) != "old" {
		t.Errorf("after a too large write, k = %d %q, want the older 200 %q", e.Status, body, "old")
	}
}

// TestTooHeavy pins that the body limit is not the only one: an entry whose
// body fits but whose key and metadata push it past MaxBytes is refused at
// Commit.
func TestTooHeavy(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{MaxBytes: 2000, MaxObjectSize: 2000})
	w, err := s.Put(t.Context(), "k", store.Entry{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := w.Write(make([]byte, 2000)); err != nil {
		t.Fatalf("Write(2000 bytes): %v", err)
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit(2000-byte body into a 2000-byte store) = %v, want ErrTooLarge", err)
	}
	if tryGet(t, s, "k") {
		t.Errorf("an entry heavier than the store was stored")
	}
	if got := s.Bytes(); got != 0 {
		t.Errorf("Bytes() = %d after a refused entry, want 0", got)
	}
}

func TestExpiryFakeClock(t *testing.T) {
	t.Parallel()
	// Ten years ago, so that entries expired by the fake clock would be live
	// by the real one, and the other way round.
	clock := clocktest.New(time.Now().AddDate(-10, 0, 0))
	s := newStore(t, Options{Clock: clock.Now})
	start := clock.Now()

	storetest.Put(t, s, "minute", store.Entry{Expires: start.Add(time.Minute)}, []byte("a"))
	storetest.Put(t, s, "forever", store.Entry{}, []byte("b"))
	storetest.Put(t, s, "past", store.Entry{Expires: start.Add(-time.Second)}, []byte("c"))
	storetest.Put(t, s, "real-time-past", store.Entry{Expires: start.AddDate(5, 0, 0)}, []byte("d"))

	steps := []struct {
		advance time.Duration
		key     string
		found   bool
	}{
		{0, "minute", true},
		{0, "past", false},
		{0, "real-time-past", true},
		{59 * time.Second, "minute", true},
		{time.Second, "minute", false}, // Expired is true at Expires itself
		{100 * 365 * 24 * time.Hour, "forever", true},
		{0, "real-time-past", false},
	}
	for _, step := range steps {
		clock.Advance(step.advance)
		if got := tryGet(t, s, step.key); got != step.found {
			t.Errorf("at start+%s: Get(%s) found = %t, want %t",
				clock.Now().Sub(start), step.key, got, step.found)
		}
	}
	s.dropExpiredAll()
	if got := s.Len(); got != 1 {
		t.Errorf("Len() = %d after the others expired, want 1", got)
	}
}

// TestExpiryBeyondNanoseconds: Expires times that Unix nanoseconds cannot
// hold (after 2262, before 1678) still mean "much later" and "long ago".
func TestExpiryBeyondNanoseconds(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	storetest.Put(t, s, "far-future", store.Entry{Expires: far}, []byte("a"))
	storetest.Put(t, s, "far-past", store.Entry{Expires: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, []byte("b"))
	if !tryGet(t, s, "far-future") {
		t.Error("an entry that expires in the year 3000 is gone")
	}
	if tryGet(t, s, "far-past") {
		t.Error("an entry that expired in the year 1000 was stored")
	}
	if e, body, err := s.Get(t.Context(), "far-future"); err != nil {
		t.Errorf("Get(far-future): %v", err)
	} else if body.Close(); !e.Expires.After(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Expires read back as %v, want after 2262", e.Expires)
	}
}

func TestCommitTrimsBuffer(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	w, err := s.Put(t.Context(), "k", store.Entry{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	chunk := make([]byte, 1000)
	for range 1000 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	sh := s.shardOf(maphash.String(s.seed, "k"))
	i, ok := sh.index[maphash.String(s.seed, "k")]
	if !ok {
		t.Fatal("k not stored")
	}
	if b := sh.refs[i].bytes; cap(b)-len(b) > len(b)/8 {
		t.Errorf("stored bytes have len %d, cap %d: more than an eighth unused", len(b), cap(b))
	}
}

func TestBodyReader(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	storetest.Put(t, s, "k", store.Entry{}, []byte("hello, world"))

	_, body, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	head := make([]byte, 7)
	if _, err := io.ReadFull(body, head); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	var rest bytes.Buffer
	// io.Copy uses WriteTo, which must continue where Read stopped.
	if n, err := io.Copy(&rest, body); err != nil || n != 5 || rest.String() != "world" {
		t.Errorf("io.Copy after reading 7 bytes = %d, %v, %q; want 5, nil, %q", n, err, rest.String(), "world")
	}
	if n, err := body.Read(head); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v, want 0, EOF", n, err)
	}
	if err := body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := body.Read(head); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close = %v, want fs.ErrClosed", err)
	}
}

// tryGet reports whether key is stored, reading and closing its body.
func tryGet(t testing.TB, s *Store, key string) bool {
	t.Helper()
	_, body, err := s.Get(t.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		t.Fatalf("Get(%s): reading body: %v", key, err)
	}
	if err := body.Close(); err != nil {
		t.Errorf("Get(%s): Close: %v", key, err)
	}
	return true
}

func mustGet(t testing.TB, s *Store, key string) (store.Entry, []byte) {
	t.Helper()
	e, body, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("Get(%s): reading body: %v", key, err)
	}
	if err := body.Close(); err != nil {
		t.Errorf("Get(%s): Close: %v", key, err)
	}
	return e, b
}

// dropExpiredAll drops every expired entry of s now, as the background
// sweep does a few shards at a time.
func (c *core) dropExpiredAll() {
	for i := range c.shards {
		c.shards[i].dropExpired(c, c.now().UnixNano())
	}
}
