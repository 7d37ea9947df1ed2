package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hoard-cache/hoard/internal/clocktest"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, Options{Path: t.TempDir()})
	})
}

// newStore opens a store that t closes at cleanup. An empty opts.Path is
// a new temporary directory.
func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = t.TempDir()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newFakeClock returns a clock that moves only when told to.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// getBody returns the body under key, or an error from Get.
func getBody(t testing.TB, s *Store, key string) (store.Entry, []byte, error) {
	t.Helper()
	e, body, err := s.Get(t.Context(), key)
	if err != nil {
		return e, nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("Get(%s): reading body: %v", key, err)
	}
	return e, b, nil
}

// has reports whether key is stored, failing t on errors other than
// ErrNotFound.
func has(t testing.TB, s *Store, key string) bool {
	t.Helper()
	_, _, err := getBody(t, s, key)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return true
}

// checkSize compares the size record with the sum of the stored entries'
// weights, and with the recency list.
func checkSize(t testing.TB, s *Store) {
	t.Helper()
	var total, entries int64
	err := s.db.View(func(tx *bolt.Tx) error {
		body := tx.Bucket(bucketBody)
		return tx.Bucket(bucketMeta).ForEach(func(k, rec []byte) error {
			entries++
			if h, err := parseHeader(rec); err == nil {
				total += weight(string(k), rec, h.bodyLen)
			} else {
				_, bodyLen := bodyChunks(body, string(k))
				total += weight(string(k), rec, bodyLen)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("scanning meta: %v", err)
	}
	var gotBytes, gotEntries int64
	s.db.View(func(tx *bolt.Tx) error {
		gotBytes, gotEntries = readSize(tx.Bucket(bucketStats))
		return nil
	})
	if gotBytes != total || gotEntries != entries {
		t.Errorf("size record = %d bytes in %d entries, but the entries weigh %d bytes in %d",
			gotBytes, gotEntries, total, entries)
	}
	if s.Bytes() != total || int64(s.Len()) != entries {
		t.Errorf("Bytes(), Len() = %d, %d, but the entries weigh %d bytes in %d",
			s.Bytes(), s.Len(), total, entries)
	}
	if n := s.recent.len(); int64(n) != entries {
		t.Errorf("recency list has %d keys, the file %d entries", n, entries)
	}
}

func TestOpenValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		// field is the option the error must name; empty if Open succeeds.
		field string
	}{
		{"zero sizes are valid", Options{}, ""},
		{"small store caps the default object size", Options{MaxBytes: 1 << 20}, ""},
		{"empty Path", Options{Path: "-"}, "Path"},
		{"negative MaxBytes", Options{MaxBytes: -1}, "MaxBytes"},
		{"negative MaxObjectSize", Options{MaxObjectSize: -1}, "MaxObjectSize"},
		{"object larger than the store", Options{MaxBytes: 1 << 20, MaxObjectSize: 2 << 20}, "MaxObjectSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			switch opts.Path {
			case "-":
				opts.Path = ""
			case "":
				opts.Path = t.TempDir()
			}
			s, err := Open(opts)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Open(%+v) = %v, want success", opts, err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) succeeded, want an error naming %s", opts, tt.field)
			}
			if !strings.Contains(err.Error(), "Options."+tt.field) {
				t.Errorf("Open(%+v) = %q, want an error naming Options.%s", opts, err, tt.field)
			}
		})
	}
}

func TestOpenCreatesPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	newStore(t, Options{Path: dir})
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("Open did not create %s: %v", FileName, err)
	}
}

func TestOpenPathIsFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: file})
	if err == nil {
		s.Close()
		t.Fatalf("Open(Path: a file) succeeded, want an error")
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open(Path: a file) = %q, want an error naming %s as not a directory", err, file)
	}
}

func TestOpenNotABoltFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, FileName)
	if err := os.WriteFile(file, bytes.Repeat([]byte("not bbolt "), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: dir})
	if err == nil {
		s.Close()
		t.Fatalf("Open(a file that is not bbolt's) succeeded, want an error")
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("Open(a file that is not bbolt's) = %q, want an error naming %s", err, file)
	}
}

func TestOpenOtherFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, FileName)
	damage(t, file, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStats).Put(statFormat, []byte{fileFormat + 1})
	})
	s, err = Open(Options{Path: dir})
	if err == nil {
		s.Close()
		t.Fatal("Open(a file of another format) succeeded, want an error")
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "format") {
		t.Errorf("Open(a file of another format) = %q, want an error naming %s and its format", err, file)
	}
}

// TestSizeRecordCorrected damages the size record: Open recounts it from
// the entries and logs that it did.
func TestSizeRecordCorrected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Put(t, s, "k", store.Entry{}, []byte("body"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damage(t, filepath.Join(dir, FileName), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStats).Put(statBytes, make([]byte, 8))
	})
	var logs syncBuffer
	s = newStore(t, Options{Path: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	checkSize(t, s)
	if !strings.Contains(logs.String(), "size record disagreed") {
		t.Errorf("Open logged %q, want a warning that it corrected the size record", logs.String())
	}
}

// TestOpenInUse opens one directory twice. flock locks belong to an open
// file description, so the second Open conflicts as another process's
// would.
func TestOpenInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open(Options{Path: dir})
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("second Open of the same path succeeded, want ErrInUse")
	}
	file := filepath.Join(dir, FileName)
	if want := fmt.Sprintf("disk store: %s is in use by another process", file); err.Error() != want {
		t.Errorf("second Open = %q, want %q", err, want)
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second Open = %v, want an error wrapping ErrInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	newStore(t, Options{Path: dir}) // free again
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Round(0)
	entries := map[string]store.Entry{
		"GET https://example.com/a": {
			Status:        http.StatusOK,
			Header:        http.Header{"Content-Type": {"text/plain"}, "Etag": {`"a"`}},
			RequestTime:   now.Add(-time.Second),
			ResponseTime:  now,
			RequestHeader: http.Header{"Accept-Encoding": {"gzip"}},
			Tags:          []string{"t1", "both"},
			Expires:       now.Add(time.Hour),
		},
		"GET https://example.com/b": {
			Status: http.StatusNotFound,
			Tags:   []string{"t2", "both"},
		},
		"index": {Status: http.StatusOK, Variants: []string{"v1", "v2"}},
	}
	bodies := map[string][]byte{
		"GET https://example.com/a": []byte("body a"),
		"GET https://example.com/b": bytes.Repeat([]byte("b"), 2*chunkSize+5),
		"index":                     nil,
	}
	for key, e := range entries {
		storetest.Put(t, s, key, e, bodies[key])
	}
	wantBytes := s.Bytes()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = newStore(t, Options{Path: dir})
	for key, want := range entries {
		got, body, err := getBody(t, s, key)
		if err != nil {
			t.Errorf("after reopening, Get(%s): %v", key, err)
			continue
		}
		want.Size = int64(len(bodies[key]))
		if !entriesEqual(got, want) {
			t.Errorf("after reopening, Get(%s) = %+v, want %+v", key, got, want)
		}
		if !bytes.Equal(body, bodies[key]) {
			t.Errorf("after reopening, Get(%s) body differs: %d bytes, want %d", key, len(body), len(bodies[key]))
		}
	}
	if n := s.Len(); n != len(entries) {
		t.Errorf("after reopening, Len() = %d, want %d", n, len(entries))
	}
	if b := s.Bytes(); b != wantBytes {
		t.Errorf("after reopening, Bytes() = %d, want %d", b, wantBytes)
	}
	checkSize(t, s)
	if n, err := s.DeleteTag(t.Context(), "both"); err != nil || n != 2 {
		t.Errorf("after reopening, DeleteTag(both) = %d, %v, want 2", n, err)
	}
	checkSize(t, s)
}

func entriesEqual(a, b store.Entry) bool {
	headersEqual := func(x, y http.Header) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !slices.Equal(v, y[k]) {
				return false
			}
		}
		return true
	}
	return a.Status == b.Status && headersEqual(a.Header, b.Header) &&
		headersEqual(a.RequestHeader, b.RequestHeader) &&
		a.RequestTime.Equal(b.RequestTime) && a.ResponseTime.Equal(b.ResponseTime) &&
		a.Expires.Equal(b.Expires) && slices.Equal(a.Variants, b.Variants) &&
		slices.Equal(a.Tags, b.Tags) && a.Size == b.Size
}

// TestCorrupt damages a stored entry directly in the bbolt file, as a bad
// disk or a stray write would, and checks that Get reports ErrCorrupt and
// that Delete clears the entry.
func TestCorrupt(t *testing.T) {
	t.Parallel()
	const key = "GET https://example.com/corrupt"
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*chunkSize+100)/16)
	tests := []struct {
		name   string
		body   []byte
		damage func(tx *bolt.Tx) error
	}{
		{"a body byte flipped", []byte("a body of some length"), func(tx *bolt.Tx) error {
			return flipByte(tx.Bucket(bucketBody), chunkKey(key, 0), 5)
		}},
		{"a byte flipped in the second chunk", big, func(tx *bolt.Tx) error {
			return flipByte(tx.Bucket(bucketBody), chunkKey(key, 1), chunkSize/2)
		}},
		{"a chunk missing", big, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBody).Delete(chunkKey(key, 1))
		}},
		{"the body truncated", []byte("a body of some length"), func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBody).Put(chunkKey(key, 0), []byte("a body"))
		}},
		{"the body lengthened", []byte("a body"), func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBody).Put(chunkKey(key, 0), []byte("a body, and more"))
		}},
		{"a metadata byte flipped", []byte("body"), func(tx *bolt.Tx) error {
			return flipByte(tx.Bucket(bucketMeta), []byte(key), headerLen+3)
		}},
		{"the body length changed", []byte("body"), func(tx *bolt.Tx) error {
			return flipByte(tx.Bucket(bucketMeta), []byte(key), offBodyLen+7)
		}},
		{"an unknown record version", []byte("body"), func(tx *bolt.Tx) error {
			return flipByte(tx.Bucket(bucketMeta), []byte(key), 0)
		}},
		{"the record truncated", []byte("body"), func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put([]byte(key), []byte{recordVersion, 0, 0})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := Open(Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			storetest.Put(t, s, key, store.Entry{Status: http.StatusOK, Tags: []string{"tag"}}, tt.body)
			storetest.Put(t, s, "other", store.Entry{Status: http.StatusOK}, []byte("other"))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			damage(t, filepath.Join(dir, FileName), tt.damage)

			s = newStore(t, Options{Path: dir})
			_, _, err = s.Get(t.Context(), key)
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Get(damaged entry) error = %v, want ErrCorrupt", err)
			}
			if !has(t, s, "other") {
				t.Errorf("another entry was lost")
			}
			checkSize(t, s)
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete(damaged entry): %v", err)
			}
			if has(t, s, key) {
				t.Errorf("Get after Delete found the damaged entry")
			}
			checkSize(t, s)
			// Nothing of the damaged entry's body is left behind.
			s.db.View(func(tx *bolt.Tx) error {
				if n := tx.Bucket(bucketBody).Stats().KeyN; n != 1 {
					t.Errorf("body bucket holds %d chunks after Delete, want 1 (other's)", n)
				}
				return nil
			})
		})
	}
}

func flipByte(b *bolt.Bucket, name []byte, i int) error {
	v := slices.Clone(b.Get(name))
	if i >= len(v) {
		return fmt.Errorf("value of %d bytes has no byte %d", len(v), i)
	}
	v[i] ^= 0x20
	return b.Put(name, v)
}

// damage changes a closed store's file with fn.
func damage(t *testing.T, file string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(file, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatalf("damaging the file: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{MaxBytes: 64 << 10, MaxObjectSize: 64 << 10})
	ctx := t.Context()

	w, err := s.Put(ctx, "big", store.Entry{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 40<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 40<<10)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Write past MaxObjectSize = %v, want ErrTooLarge", err)
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit after a Write past MaxObjectSize = %v, want ErrTooLarge", err)
	}

	// A body of MaxObjectSize fits, but with its key and metadata the
	// entry outweighs MaxBytes.
	w, err = s.Put(ctx, "heavy", store.Entry{Header: http.Header{"X": {"y"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit of an entry heavier than MaxBytes = %v, want ErrTooLarge", err)
	}
	if has(t, s, "big") || has(t, s, "heavy") {
		t.Errorf("an entry too large was stored")
	}

	if _, err := s.Put(ctx, strings.Repeat("k", bolt.MaxKeySize), store.Entry{}); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Put(a key of %d bytes) = %v, want ErrTooLarge", bolt.MaxKeySize, err)
	}
	if _, err := s.Put(ctx, "", store.Entry{}); err == nil {
		t.Errorf("Put(empty key) succeeded, want an error")
	}
	checkSize(t, s)
}

// TestBound writes far more than MaxBytes and checks that the store stays
// within it.
func TestBound(t *testing.T) {
	t.Parallel()
	const maxBytes = 256 << 10
	s := newStore(t, Options{MaxBytes: maxBytes})
	for i := range 150 {
		body := bytes.Repeat([]byte{byte(i)}, 4<<10+i*37)
		storetest.Put(t, s, fmt.Sprintf("k/%03d", i), store.Entry{Status: http.StatusOK}, body)
		if b := s.Bytes(); b > maxBytes {
			t.Fatalf("after %d puts, Bytes() = %d, want at most %d", i+1, b, maxBytes)
		}
	}
	n := s.Len()
	if n == 0 || n >= 150 {
		t.Errorf("Len() = %d, want some but not all of 150 entries", n)
	}
	// What was evicted is the oldest: the newest n keys remain.
	for i := range 150 {
		if want := i >= 150-n; has(t, s, fmt.Sprintf("k/%03d", i)) != want {
			t.Errorf("k/%03d stored = %v, want %v (the newest %d remain)", i, !want, want, n)
		}
	}
	checkSize(t, s)
}

// TestLRUKeepsReadKeys reads a few keys among many writes: the read keys
// survive eviction, the unread ones written as early do not.
func TestLRUKeepsReadKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newStore(t, Options{MaxBytes: 200 << 10, Clock: clock.Now})
	body := make([]byte, 8<<10)
	hot := []string{"hot/0", "hot/1", "hot/2"}
	for _, key := range append(slices.Clone(hot), "cold/early") {
		storetest.Put(t, s, key, store.Entry{}, body)
	}
	for i := range 200 {
		clock.Advance(time.Second)
		storetest.Put(t, s, fmt.Sprintf("cold/%d", i), store.Entry{}, body)
		if i%5 == 0 {
			for _, key := range hot {
				if !has(t, s, key) {
					t.Fatalf("after %d writes, hot key %s was evicted", i, key)
				}
			}
		}
	}
	if has(t, s, "cold/early") {
		t.Errorf("an unread key written before 200 others survived")
	}
	checkSize(t, s)
}

// TestExpiredEvictedFirst fills the store, lets the newer half of the
// entries expire, and writes one more: an expired entry goes before the
// least recently used live one.
func TestExpiredEvictedFirst(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newStore(t, Options{MaxBytes: 100 << 10, Clock: clock.Now})
	body := make([]byte, 9800) // ten entries fit in MaxBytes, eleven do not
	for i := range 10 {
		e := store.Entry{}
		if i >= 5 {
			e.Expires = clock.Now().Add(time.Minute)
		}
		storetest.Put(t, s, fmt.Sprintf("k/%d", i), e, body)
		clock.Advance(time.Second)
	}
	if n := s.Len(); n != 10 {
		t.Fatalf("Len() = %d after 10 puts that fit, want 10", n)
	}
	clock.Advance(time.Hour)
	storetest.Put(t, s, "new", store.Entry{}, body)
	for i := range 5 {
		if !has(t, s, fmt.Sprintf("k/%d", i)) {
			t.Errorf("live k/%d was evicted while expired entries remained", i)
		}
	}
	if n := s.Len(); n != 6 {
		t.Errorf("Len() = %d, want 6: the 5 live entries and the new one", n)
	}
	checkSize(t, s)
}

// TestRecencySurvivesRestart reads an old key, restarts, and fills the
// store: the key read before the restart outlives one written later but
// never read.
func TestRecencySurvivesRestart(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	dir := t.TempDir()
	opts := Options{Path: dir, MaxBytes: 100 << 10, Clock: clock.Now}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 9800) // ten entries fit in MaxBytes, eleven do not
	storetest.Put(t, s, "read", store.Entry{}, body)
	clock.Advance(time.Second)
	storetest.Put(t, s, "unread", store.Entry{}, body)
	clock.Advance(2 * accessGranularity)
	if !has(t, s, "read") {
		t.Fatal("Get(read) found nothing")
	}
	if err := s.Close(); err != nil { // writes the access time back
		t.Fatal(err)
	}

	s = newStore(t, opts)
	for i := range 9 {
		clock.Advance(time.Second)
		storetest.Put(t, s, fmt.Sprintf("fill/%d", i), store.Entry{}, body)
	}
	if !has(t, s, "read") {
		t.Errorf("the key read before the restart was evicted")
	}
	if has(t, s, "unread") {
		t.Errorf("the unread key outlived the read one")
	}
	checkSize(t, s)
}

func TestSweep(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newStore(t, Options{Clock: clock.Now})
	now := clock.Now()
	storetest.Put(t, s, "soon", store.Entry{Expires: now.Add(time.Minute)}, []byte("a"))
	storetest.Put(t, s, "later", store.Entry{Expires: now.Add(time.Hour)}, []byte("b"))
	storetest.Put(t, s, "never", store.Entry{}, []byte("c"))
	// Stored again with a later Expires: its first expiry row is stale.
	storetest.Put(t, s, "moved", store.Entry{Expires: now.Add(time.Minute)}, []byte("d"))
	storetest.Put(t, s, "moved", store.Entry{Expires: now.Add(time.Hour)}, []byte("d"))

	clock.Advance(2 * time.Minute)
	if err := s.sweep(); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 3 {
		t.Errorf("after the sweep, Len() = %d, want 3", n)
	}
	for key, want := range map[string]bool{"soon": false, "later": true, "never": true, "moved": true} {
		if has(t, s, key) != want {
			t.Errorf("after the sweep, %s stored = %v, want %v", key, !want, want)
		}
	}
	checkSize(t, s)
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketExpiry).Stats().KeyN; n != 2 {
			t.Errorf("expiry index holds %d rows, want 2 (later, moved)", n)
		}
		return nil
	})
}

// TestSweepLoop checks that the goroutine Open starts sweeps every
// sweepInterval on its own, and that Close stops it (synctest fails a test
// whose bubble ends with goroutines still running).
func TestSweepLoop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, Options{}) // its clock is the bubble's
		storetest.Put(t, s, "k", store.Entry{Expires: time.Now().Add(time.Second)}, []byte("x"))
		time.Sleep(sweepInterval - time.Second)
		if n := s.Len(); n != 1 {
			t.Fatalf("before the first sweep, Len() = %d, want 1", n)
		}
		time.Sleep(2 * time.Second)
		if n := s.Len(); n != 0 {
			t.Errorf("after the first sweep, Len() = %d, want 0", n)
		}
	})
}

func TestDeletePrefix(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	ctx := t.Context()
	for _, key := range []string{"GET a/1", "GET a/2", "GET a/2/x", "GET ab", "GET b", "GET a"} {
		storetest.Put(t, s, key, store.Entry{}, []byte(key))
	}
	n, err := s.DeletePrefix(ctx, "GET a/")
	if err != nil || n != 3 {
		t.Errorf("DeletePrefix(GET a/) = %d, %v, want 3", n, err)
	}
	for key, want := range map[string]bool{"GET a/1": false, "GET a/2": false, "GET a/2/x": false, "GET ab": true, "GET b": true, "GET a": true} {
		if has(t, s, key) != want {
			t.Errorf("after DeletePrefix(GET a/), %s stored = %v, want %v", key, !want, want)
		}
	}
	if n, err := s.DeletePrefix(ctx, "nothing"); err != nil || n != 0 {
		t.Errorf("DeletePrefix(nothing) = %d, %v, want 0", n, err)
	}
	checkSize(t, s)
	if n, err := s.DeletePrefix(ctx, ""); err != nil || n != 3 {
		t.Errorf("DeletePrefix(\"\") = %d, %v, want 3", n, err)
	}
	checkSize(t, s)
}

// TestDeletePrefixBatches purges more entries than one transaction takes.
func TestDeletePrefixBatches(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	const n = purgeBatch*2 + 7
	// One transaction stores them all; a Commit each would fsync n times.
	err := s.update(func(tx *txn) error {
		for i := range n {
			key := fmt.Sprintf("p/%05d", i)
			rec, err := newRecord(&store.Entry{Tags: []string{"t"}})
			if err != nil {
				return err
			}
			sealRecord(rec, header{})
			if err := tx.insert(&commitment{key: key, record: rec, tags: []string{"t"}, weight: weight(key, rec, 0)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Put(t, s, "q", store.Entry{Tags: []string{"t"}}, nil)
	if got, err := s.DeletePrefix(t.Context(), "p/"); err != nil || got != n {
		t.Errorf("DeletePrefix(p/) = %d, %v, want %d", got, err, n)
	}
	if got, err := s.DeleteTag(t.Context(), "t"); err != nil || got != 1 {
		t.Errorf("DeleteTag(t) = %d, %v, want 1 (q)", got, err)
	}
	checkSize(t, s)
}

func TestDeleteTag(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	ctx := t.Context()
	entries := map[string][]string{
		"a": {"product:1", "catalog"},
		"b": {"product:2", "catalog"},
		"c": {"product:1"},
		"d": nil,
		// A tag whose length prefix and bytes could pass for another
		// tag followed by a key, were rows named tag, NUL, key.
		"x\x00y": {"product:1\x00z"},
	}
	for key, tags := range entries {
		storetest.Put(t, s, key, store.Entry{Tags: tags}, []byte(key))
	}
	// Stored again without its tag: its old row is stale.
	storetest.Put(t, s, "c", store.Entry{}, []byte("c"))

	if n, err := s.DeleteTag(ctx, "product:1"); err != nil || n != 1 {
		t.Errorf("DeleteTag(product:1) = %d, %v, want 1 (a)", n, err)
	}
	for key, want := range map[string]bool{"a": false, "b": true, "c": true, "d": true, "x\x00y": true} {
		if has(t, s, key) != want {
			t.Errorf("after DeleteTag(product:1), %q stored = %v, want %v", key, !want, want)
		}
	}
	if n, err := s.DeleteTag(ctx, "catalog"); err != nil || n != 1 {
		t.Errorf("DeleteTag(catalog) = %d, %v, want 1 (b)", n, err)
	}
	if n, err := s.DeleteTag(ctx, "product:1\x00z"); err != nil || n != 1 {
		t.Errorf("DeleteTag(product:1 NUL z) = %d, %v, want 1", n, err)
	}
	if n, err := s.DeleteTag(ctx, "absent"); err != nil || n != 0 {
		t.Errorf("DeleteTag(absent) = %d, %v, want 0", n, err)
	}
	checkSize(t, s)
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketTags).Stats().KeyN; n != 0 {
			t.Errorf("tags bucket holds %d rows, want none", n)
		}
		return nil
	})
}

// TestOverwriteLeavesNoChunks overwrites a multi-chunk body with a short
// one: the chunks past the first must go.
func TestOverwriteLeavesNoChunks(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	storetest.Put(t, s, "k", store.Entry{}, make([]byte, 3*chunkSize+1))
	storetest.Put(t, s, "k", store.Entry{}, []byte("short"))
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketBody).Stats().KeyN; n != 1 {
			t.Errorf("body bucket holds %d chunks, want 1", n)
		}
		return nil
	})
	if _, body, err := getBody(t, s, "k"); err != nil || string(body) != "short" {
		t.Errorf("Get(k) = %q, %v, want %q", body, err, "short")
	}
	checkSize(t, s)
}

func TestBodyReaderAt(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	storetest.Put(t, s, "k", store.Entry{}, []byte("0123456789"))
	_, body, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	ra, ok := body.(io.ReaderAt)
	if !ok {
		t.Fatalf("Get's body %T does not implement io.ReaderAt", body)
	}
	p := make([]byte, 4)
	if n, err := ra.ReadAt(p, 3); n != 4 || err != nil || string(p) != "3456" {
		t.Errorf("ReadAt(4 bytes, 3) = %d, %v, %q, want 4, nil, 3456", n, err, p)
	}
	if n, err := ra.ReadAt(p, 8); n != 2 || err != io.EOF || string(p[:n]) != "89" {
		t.Errorf("ReadAt(4 bytes, 8) = %d, %v, %q, want 2, EOF, 89", n, err, p[:n])
	}
	if all, err := io.ReadAll(body); err != nil || string(all) != "0123456789" {
		t.Errorf("ReadAll after ReadAt = %q, %v, want the whole body", all, err)
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, _, err := s.Get(t.Context(), "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Close = %v, want an error other than ErrNotFound", err)
	}
}
