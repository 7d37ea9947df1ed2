// Package storetest is the conformance suite that every store.Store backend
// runs from its own tests: memory, disk and Redis alike.
//
// It checks only what package store promises (round trip, Note included,
// not-found, commit visibility, abort, overwrite, delete, expiry, that
// what Get returned stays put, and concurrent use); each
// backend tests its own bounds, eviction and corruption handling beside its
// code. It must not import any backend.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

// bigBodySize is the multi-MiB body of the round-trip test. A backend under
// test must accept objects of at least 4 MiB.
const bigBodySize = 3<<20 + 17

// Run runs the conformance suite against the stores newStore returns.
//
// Each subtest calls newStore once and runs in parallel with the others, so
// every store newStore returns must be empty and independent of the others.
// It must hold at least 32 MiB and 4 MiB objects without evicting anything,
// and should be closed by newStore through t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"RoundTripBodies", testRoundTripBodies},
		{"NotFound", testNotFound},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"AbortKeepsOlderEntry", testAbortKeepsOlderEntry},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"Expired", testExpired},
		{"PutCopiesMetadata", testPutCopiesMetadata},
		{"ReaderOutlivesOverwrite", testReaderOutlivesOverwrite},
		{"Notes", testNotes},
		{"GetResultsStayPut", func(t *testing.T, s store.Store) { checkResultsStayPut(t, s) }},
		{"CancelledContext", testCancelledContext},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newStore(t))
		})
	}
}

// sampleEntry returns an entry with every field set, as a response with
// Vary and tags would be stored.
func sampleEntry() store.Entry {
	now := time.Now() // carries a monotonic reading, which stores may drop
	return store.Entry{
		Status: http.StatusOK,
		Header: http.Header{
			"Content-Type":  {"text/plain; charset=utf-8"},
			"Cache-Control": {"max-age=60", "must-revalidate"},
			"Vary":          {"Accept-Encoding"},
			"Etag":          {`"v1"`},
		},
		RequestTime:   now.Add(-120 * time.Millisecond),
		ResponseTime:  now,
		RequestHeader: http.Header{"Accept-Encoding": {"gzip, br"}},
		Tags:          []string{"product:42", "catalog"},
		Expires:       now.Add(time.Hour),
		// Size is wrong on purpose: the store sets it on commit.
		Size: 999,
		// Any bytes, not only text.
		Note: "note\x00\xff\xfe\x80 \"quoted\"\n",
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	body := []byte("hello, hoard")
	e := sampleEntry()
	Put(t, s, "GET https://example.com/a?b=c d", e, body)
	e.Size = int64(len(body))
	checkGet(t, s, "GET https://example.com/a?b=c d", e, body)

	// An index entry: variants and no body.
	index := store.Entry{
		Status:       http.StatusOK,
		Header:       http.Header{"Vary": {"Accept-Encoding"}},
		ResponseTime: time.Now(),
		Variants:     []string{"variant/gzip", "variant/identity"},
	}
	Put(t, s, "index", index, nil)
	checkGet(t, s, "index", index, nil)

	// A minimal entry: nil maps and slices, zero times.
	minimal := store.Entry{Status: http.StatusNoContent}
	Put(t, s, "minimal", minimal, nil)
	checkGet(t, s, "minimal", minimal, nil)

	// A long key, as a URL with a large query makes.
	long := "GET https://example.com/?q=" + strings.Repeat("x", 4<<10)
	Put(t, s, long, minimal, []byte("long"))
	checkGet(t, s, long, minimal, []byte("long"))

	if _, _, err := s.Get(ctx, "GET https://example.com/a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(key prefix) error = %v, want ErrNotFound", err)
	}
}

func testRoundTripBodies(t *testing.T, s store.Store) {
	big := patternBody("big", bigBodySize)
	tests := []struct {
		name string
		body []byte
		// chunk is the size of each Write; 0 writes the body at once.
		chunk int
	}{
		{"empty body", nil, 0},
		{"one byte", []byte{0}, 0},
		{"binary body", []byte{0, 1, 2, 0xff, '\r', '\n', 0}, 0},
		{"multi-MiB body at once", big, 0},
		{"multi-MiB body in odd chunks", big, 32<<10 + 3},
	}
	for i, tt := range tests {
		key := "body/" + strconv.Itoa(i)
		w, err := s.Put(t.Context(), key, sampleEntry())
		if err != nil {
			t.Fatalf("%s: Put: %v", tt.name, err)
		}
		if _, err := w.Write(nil); err != nil {
			t.Fatalf("%s: Write(nil): %v", tt.name, err)
		}
		writeChunks(t, w, tt.body, tt.chunk)
		if err := w.Commit(); err != nil {
			t.Fatalf("%s: Commit: %v", tt.name, err)
		}
		want := sampleEntry()
		want.Size = int64(len(tt.body))
		got, gotBody := Get(t, s, key)
		if got.Size != want.Size {
			t.Errorf("%s: Size = %d, want %d", tt.name, got.Size, want.Size)
		}
		if !bytes.Equal(gotBody, tt.body) {
			t.Errorf("%s: body differs: got %d bytes, want %d", tt.name, len(gotBody), len(tt.body))
		}
	}
}

func testNotFound(t *testing.T, s store.Store) {
	_, body, err := s.Get(t.Context(), "absent")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(absent) error = %v, want ErrNotFound", err)
	}
	if body != nil {
		t.Errorf("Get(absent) body = %v, want nil", body)
	}
}

func testInvisibleBeforeCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	w, err := s.Put(ctx, "k", sampleEntry())
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	checkNotFound(t, s, "k", "before any Write")
	writeChunks(t, w, []byte("partial body"), 0)
	checkNotFound(t, s, "k", "after Write, before Commit")
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, body := Get(t, s, "k"); string(body) != "partial body" {
		t.Errorf("body after Commit = %q, want %q", body, "partial body")
	}
}

func testAbortLeavesNothing(t *testing.T, s store.Store) {
	w, err := s.Put(t.Context(), "k", sampleEntry())
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	writeChunks(t, w, patternBody("k", 100<<10), 4096)
	w.Abort()
	checkNotFound(t, s, "k", "after Abort")
	w.Abort() // twice is harmless
	checkNotFound(t, s, "k", "after a second Abort")
}

func testAbortKeepsOlderEntry(t *testing.T, s store.Store) {
	e := sampleEntry()
	Put(t, s, "k", e, []byte("old body"))

	w, err := s.Put(t.Context(), "k", sampleEntry())
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	writeChunks(t, w, []byte("new body, never committed"), 0)
	w.Abort()

	e.Size = int64(len("old body"))
	checkGet(t, s, "k", e, []byte("old body"))
}

func testAbortAfterCommit(t *testing.T, s store.Store) {
	w, err := s.Put(t.Context(), "k", sampleEntry())
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	writeChunks(t, w, []byte("body"), 0)
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	w.Abort() // deferred Aborts rely on this being harmless
	if _, body := Get(t, s, "k"); string(body) != "body" {
		t.Errorf("body after Commit then Abort = %q, want %q", body, "body")
	}
}

func testOverwrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := sampleEntry()
	Put(t, s, "k", first, []byte("first"))

	second := sampleEntry()
	second.Status = http.StatusNotFound
	second.Header = http.Header{"Etag": {`"v2"`}}
	second.RequestHeader = nil
	second.Tags = []string{"other"}
	second.Note = ""
	w, err := s.Put(ctx, "k", second)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	writeChunks(t, w, []byte("second, longer body"), 0)

	// Until the second Commit, the first entry is whole.
	first.Size = int64(len("first"))
	checkGet(t, s, "k", first, []byte("first"))

	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	second.Size = int64(len("second, longer body"))
	checkGet(t, s, "k", second, []byte("second, longer body"))
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	Put(t, s, "k", sampleEntry(), []byte("body"))
	Put(t, s, "other", sampleEntry(), []byte("other body"))
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkNotFound(t, s, "k", "after Delete")
	if _, body := Get(t, s, "other"); string(body) != "other body" {
		t.Errorf("Delete(k) disturbed another key: body = %q", body)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete(deleted key) = %v, want nil", err)
	}
	if err := s.Delete(ctx, "never stored"); err != nil {
		t.Errorf("Delete(absent key) = %v, want nil", err)
	}
	// A deleted key can be stored again.
	Put(t, s, "k", sampleEntry(), []byte("again"))
	if _, body := Get(t, s, "k"); string(body) != "again" {
		t.Errorf("body after Delete and Put = %q, want %q", body, "again")
	}
}

func testExpired(t *testing.T, s store.Store) {
	now := time.Now()
	tests := []struct {
		name    string
		expires time.Time
		found   bool
	}{
		{"no limit", time.Time{}, true},
		{"expires later", now.Add(time.Hour), true},
		{"expired an hour ago", now.Add(-time.Hour), false},
		{"expired long ago", time.Unix(1, 0), false},
	}
	for i, tt := range tests {
		key := "expiry/" + strconv.Itoa(i)
		e := sampleEntry()
		e.Expires = tt.expires
		Put(t, s, key, e, []byte("body"))
		_, body, err := s.Get(t.Context(), key)
		switch {
		case tt.found && err != nil:
			t.Errorf("%s: Get error = %v, want the entry", tt.name, err)
		case !tt.found && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: Get error = %v, want ErrNotFound", tt.name, err)
		}
		if err == nil {
			closeBody(t, body)
		}
	}

	// An expired entry also hides an older live one: the newer write wins.
	Put(t, s, "replaced", sampleEntry(), []byte("live"))
	e := sampleEntry()
	e.Expires = now.Add(-time.Minute)
	Put(t, s, "replaced", e, []byte("expired"))
	checkNotFound(t, s, "replaced", "after committing an expired entry over a live one")
}

// testPutCopiesMetadata pins that a committed entry is immutable: the caller
// may reuse the Entry it passed to Put, its maps and their value slices.
func testPutCopiesMetadata(t *testing.T, s store.Store) {
	e := sampleEntry()
	Put(t, s, "k", e, []byte("body"))
	want := sampleEntry()
	want.Size = 4
	want.RequestTime, want.ResponseTime, want.Expires = e.RequestTime, e.ResponseTime, e.Expires

	e.Header.Set("Age", "10")
	e.Header["Cache-Control"][0] = "no-store"
	delete(e.Header, "Etag")
	e.RequestHeader.Set("Accept-Encoding", "identity")
	e.Tags[0] = "changed"
	checkGet(t, s, "k", want, []byte("body"))
}

func testReaderOutlivesOverwrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := patternBody("old", 256<<10)
	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"overwritten", func(t *testing.T) { Put(t, s, "k", sampleEntry(), patternBody("new", 300<<10)) }},
		{"deleted", func(t *testing.T) {
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		Put(t, s, "k", sampleEntry(), old)
		_, body, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatalf("%s: Get: %v", tt.name, err)
		}
		head := make([]byte, 1000)
		if _, err := io.ReadFull(body, head); err != nil {
			t.Fatalf("%s: reading the first bytes: %v", tt.name, err)
		}
		tt.change(t)
		rest, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: reading the rest: %v", tt.name, err)
		}
		closeBody(t, body)
		if got := append(head, rest...); !bytes.Equal(got, old) {
			t.Errorf("%s while reading: got %d bytes, not the old body of %d", tt.name, len(got), len(old))
		}
	}
}

// testNotes checks that a Note comes back byte for byte whatever it holds,
// on any entry, and that an entry stored without one has none.
func testNotes(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name  string
		entry store.Entry
		body  []byte
	}{
		{"every byte value", store.Entry{Status: http.StatusOK, Note: string(all)}, []byte("body")},
		{"one byte", store.Entry{Status: http.StatusOK, Note: "\x00"}, nil},
		{"none", store.Entry{Status: http.StatusOK, Header: http.Header{"A": {"b"}}}, []byte("body")},
		{"on an index entry", store.Entry{Status: http.StatusOK, Variants: []string{"v/1"}, Note: "index note"}, nil},
		{"long, beside a long header", store.Entry{
			Status: http.StatusOK, Note: strings.Repeat("n", 64<<10),
			Header: http.Header{"Link": {strings.Repeat("l", 10000)}},
		}, patternBody("long", 100<<10)},
	}
	for i, tt := range tests {
		key := "note/" + strconv.Itoa(i)
		Put(t, s, key, tt.entry, tt.body)
		got, body := Get(t, s, key)
		if got.Note != tt.entry.Note {
			t.Errorf("%s: Note = %q, want %q", tt.name, truncate([]byte(got.Note)), truncate([]byte(tt.entry.Note)))
		}
		if !bytes.Equal(body, tt.body) || got.Size != int64(len(tt.body)) {
			t.Errorf("%s: body of %d bytes (Size %d), want %d", tt.name, len(body), got.Size, len(tt.body))
		}
	}
	// Overwritten without a Note, an entry has none.
	Put(t, s, "note/0", store.Entry{Status: http.StatusOK}, []byte("new"))
	if got, _ := Get(t, s, "note/0"); got.Note != "" {
		t.Errorf("overwritten without a Note: Note = %q, want none", truncate([]byte(got.Note)))
	}
}

// checkResultsStayPut checks the promise that lets a caller keep what Get
// returned: its header strings, Note, tags, variants and unread body stay
// as they were while the store overwrites, deletes and stores other
// entries of the same sizes (what a store that recycled buffers would
// reuse them for). It takes a testing.TB so that storetest's own test can
// show it failing on such a store.
func checkResultsStayPut(t testing.TB, s store.Store) {
	t.Helper()
	ctx := t.Context()
	entry := func(c byte) (store.Entry, []byte) {
		fill := func(n int) string { return strings.Repeat(string(c), n) }
		e := store.Entry{
			Status:        http.StatusOK,
			Header:        http.Header{"Etag": {`"` + fill(30) + `"`}, "X-" + fill(8): {fill(200)}},
			RequestHeader: http.Header{"Accept-Encoding": {fill(12)}},
			Tags:          []string{fill(10)},
			Note:          fill(48),
		}
		return e, bytes.Repeat([]byte{c}, 8<<10)
	}
	e, body := entry('a')
	Put(t, s, "k", e, body)
	got, r, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get(k): %v", err)
	}
	defer r.Close()
	// Deep copies of what Get returned, taken before the store does more.
	want := got
	want.Header, want.RequestHeader = cloneHeader(got.Header), cloneHeader(got.RequestHeader)
	want.Tags = slices.Clone(got.Tags)
	for i, tag := range want.Tags {
		want.Tags[i] = strings.Clone(tag)
	}
	want.Note = strings.Clone(got.Note)
	if !headersEqual(want.Header, e.Header) || want.Note != e.Note {
		t.Fatalf("Get(k) = %+v, not the entry stored", got)
	}

	// Overwrite the key, delete it and store others, reading each back.
	for i, c := range []byte("bcdefgh") {
		key := "k"
		if i%2 == 1 {
			key = "other/" + strconv.Itoa(i)
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatalf("Delete(k): %v", err)
			}
		}
		ne, nb := entry(c)
		Put(t, s, key, ne, nb)
		Get(t, s, key)
	}

	if !headersEqual(got.Header, want.Header) {
		t.Errorf("a Header that Get returned changed afterwards: now %.40q, was %.40q", got.Header, want.Header)
	}
	if !headersEqual(got.RequestHeader, want.RequestHeader) {
		t.Errorf("a RequestHeader that Get returned changed afterwards: now %.40q, was %.40q", got.RequestHeader, want.RequestHeader)
	}
	if !slices.Equal(got.Tags, want.Tags) {
		t.Errorf("Tags that Get returned changed afterwards: now %.40q, was %.40q", got.Tags, want.Tags)
	}
	if got.Note != want.Note {
		t.Errorf("a Note that Get returned changed afterwards: now %.40q, was %.40q", got.Note, want.Note)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the body after the store moved on: %v", err)
	}
	if !bytes.Equal(rest, body) {
		t.Errorf("a body that Get returned changed afterwards: %q..., was %q...", truncate(rest), truncate(body))
	}
}

func cloneHeader(h http.Header) http.Header {
	c := make(http.Header, len(h))
	for k, vs := range h {
		c[strings.Clone(k)] = slices.Clone(vs)
		for i, v := range c[k] {
			c[k][i] = strings.Clone(v)
		}
	}
	return c
}

// Reopen checks that an entry, Note included, outlives its store: it
// stores one in first, then calls reopen, which must close first (if it
// must be closed) and return a store over the same data, as a restarted
// process (or another process sharing it) would open.
func Reopen(t *testing.T, first store.Store, reopen func(t *testing.T) store.Store) {
	t.Helper()
	e := sampleEntry()
	body := []byte("kept across a restart")
	Put(t, first, "reopen/k", e, body)
	second := reopen(t)
	e.Size = int64(len(body))
	checkGet(t, second, "reopen/k", e, body)
}

// testCancelledContext allows either outcome, an error or success, but not a
// panic or a half-stored entry.
func testCancelledContext(t *testing.T, s store.Store) {
	Put(t, s, "k", sampleEntry(), []byte("body"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, body, err := s.Get(ctx, "k"); err == nil {
		closeBody(t, body)
	}
	if w, err := s.Put(ctx, "new", sampleEntry()); err == nil {
		// An error here is as good as success.
		_, _ = w.Write([]byte("body"))
		w.Abort()
	}
	checkNotFound(t, s, "new", "after an aborted Put under a cancelled context")
	// Whether Delete honours the cancellation is up to the backend; it must
	// not panic. Its error is irrelevant here.
	_ = s.Delete(ctx, "k")
}

// testConcurrent runs writers, readers and deleters over a few shared keys.
// Every body read must be exactly the one its entry's header names: a mix
// of two writes, or of one entry's metadata with another's body, fails.
func testConcurrent(t *testing.T, s store.Store) {
	const (
		workers = 8
		rounds  = 150
	)
	keys := []string{"c/0", "c/1", "c/2", "c/3"}
	var wg sync.WaitGroup
	for worker := range workers {
		wg.Go(func() {
			for round := range rounds {
				key := keys[(worker+round)%len(keys)]
				switch round % 5 {
				case 0, 1:
					concurrentPut(t, s, key, worker, round)
				case 4:
					if err := s.Delete(t.Context(), key); err != nil {
						t.Errorf("Delete(%s): %v", key, err)
					}
				default:
					concurrentGet(t, s, key)
				}
			}
		})
	}
	wg.Wait()
	for _, key := range keys {
		concurrentGet(t, s, key)
	}
}

func concurrentPut(t *testing.T, s store.Store, key string, worker, round int) {
	id := fmt.Sprintf("%s/w%d/r%d", key, worker, round)
	e := sampleEntry()
	e.Header = http.Header{"X-Id": {id}}
	w, err := s.Put(t.Context(), key, e)
	if err != nil {
		t.Errorf("Put(%s): %v", key, err)
		return
	}
	// Sizes differ between writes, so that a torn read shows.
	body := patternBody(id, 1+(worker*7919+round*104729)%(96<<10))
	if _, err := w.Write(body[:len(body)/2]); err != nil {
		t.Errorf("Write(%s): %v", key, err)
		w.Abort()
		return
	}
	if _, err := w.Write(body[len(body)/2:]); err != nil {
		t.Errorf("Write(%s): %v", key, err)
		w.Abort()
		return
	}
	if (worker+round)%7 == 0 {
		w.Abort()
		return
	}
	if err := w.Commit(); err != nil {
		t.Errorf("Commit(%s): %v", key, err)
	}
}

func concurrentGet(t *testing.T, s store.Store, key string) {
	e, body, err := s.Get(t.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		t.Errorf("Get(%s): %v", key, err)
		return
	}
	got, err := io.ReadAll(body)
	closeBody(t, body)
	if err != nil {
		t.Errorf("Get(%s): reading body: %v", key, err)
		return
	}
	id := e.Header.Get("X-Id")
	if len(id) <= len(key) || id[:len(key)+1] != key+"/" {
		t.Errorf("Get(%s) returned the entry %q of another key", key, id)
		return
	}
	if e.Size != int64(len(got)) {
		t.Errorf("Get(%s) entry %s: Size = %d, body has %d bytes", key, id, e.Size, len(got))
	}
	want := patternBody(id, len(got))
	if !bytes.Equal(got, want) {
		t.Errorf("Get(%s) entry %s: body of %d bytes is not the one written with it", key, id, len(got))
	}
}

// patternBody returns n bytes that repeat label with a running count, so
// that bodies of different labels, or torn at any offset, differ.
func patternBody(label string, n int) []byte {
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i++ {
		b = append(b, label...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ';')
	}
	return b[:n]
}

// Put stores body under key and commits it, failing t on any error. The
// backends' own tests use it too.
func Put(t testing.TB, s store.Store, key string, e store.Entry, body []byte) {
	t.Helper()
	w, err := s.Put(t.Context(), key, e)
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	writeChunks(t, w, body, 0)
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%s): %v", key, err)
	}
}

// writeChunks writes body in chunks of chunk bytes, or at once if chunk is 0.
func writeChunks(t testing.TB, w store.BodyWriter, body []byte, chunk int) {
	t.Helper()
	if chunk <= 0 {
		chunk = max(len(body), 1)
	}
	for b := range slices.Chunk(body, chunk) {
		n, err := w.Write(b)
		if err != nil {
			w.Abort()
			t.Fatalf("Write(%d bytes): %v", len(b), err)
		}
		if n != len(b) {
			w.Abort()
			t.Fatalf("Write(%d bytes) = %d", len(b), n)
		}
	}
}

// Get returns the entry and the whole body stored under key, failing t if
// there is none or it cannot be read.
func Get(t testing.TB, s store.Store, key string) (store.Entry, []byte) {
	t.Helper()
	e, body, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("Get(%s): reading body: %v", key, err)
	}
	closeBody(t, body)
	return e, b
}

func closeBody(t testing.TB, body io.ReadCloser) {
	t.Helper()
	if err := body.Close(); err != nil {
		t.Errorf("closing body: %v", err)
	}
}

func checkNotFound(t *testing.T, s store.Store, key, when string) {
	t.Helper()
	_, body, err := s.Get(t.Context(), key)
	if err == nil {
		closeBody(t, body)
		t.Errorf("Get(%s) %s found an entry, want ErrNotFound", key, when)
		return
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%s) %s error = %v, want ErrNotFound", key, when, err)
	}
}

// checkGet compares the entry stored under key with want, field by field.
// Nil and empty maps or slices compare equal, since a backend that
// serializes may not tell them apart, and times compare with Equal.
func checkGet(t *testing.T, s store.Store, key string, want store.Entry, wantBody []byte) {
	t.Helper()
	got, body := Get(t, s, key)
	if got.Status != want.Status {
		t.Errorf("Get(%s): Status = %d, want %d", key, got.Status, want.Status)
	}
	if !headersEqual(got.Header, want.Header) {
		t.Errorf("Get(%s): Header = %v, want %v", key, got.Header, want.Header)
	}
	if !headersEqual(got.RequestHeader, want.RequestHeader) {
		t.Errorf("Get(%s): RequestHeader = %v, want %v", key, got.RequestHeader, want.RequestHeader)
	}
	if !slices.Equal(got.Variants, want.Variants) {
		t.Errorf("Get(%s): Variants = %q, want %q", key, got.Variants, want.Variants)
	}
	if !slices.Equal(got.Tags, want.Tags) {
		t.Errorf("Get(%s): Tags = %q, want %q", key, got.Tags, want.Tags)
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"RequestTime", got.RequestTime, want.RequestTime},
		{"ResponseTime", got.ResponseTime, want.ResponseTime},
		{"Expires", got.Expires, want.Expires},
	} {
		if !tm.got.Equal(tm.want) {
			t.Errorf("Get(%s): %s = %v, want %v", key, tm.name, tm.got, tm.want)
		}
	}
	if got.Note != want.Note {
		t.Errorf("Get(%s): Note = %q, want %q", key, got.Note, want.Note)
	}
	if got.Size != int64(len(wantBody)) {
		t.Errorf("Get(%s): Size = %d, want %d (the body's length)", key, got.Size, len(wantBody))
	}
	if !bytes.Equal(body, wantBody) {
		t.Errorf("Get(%s): body = %q, want %q", key, truncate(body), truncate(wantBody))
	}
}

func headersEqual(a, b http.Header) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// TypicalEntry is a stored response's metadata as a benchmark or test of a
// backend wants it: a JSON API answer, fresh for an hour.
func TypicalEntry() store.Entry {
	now := time.Now()
	return store.Entry{
		Status: http.StatusOK,
		Header: http.Header{
			"Content-Type":  {"application/json"},
			"Cache-Control": {"public, max-age=300"},
			"Etag":          {`"abc123"`},
			"Date":          {now.UTC().Format(http.TimeFormat)},
		},
		RequestTime:  now,
		ResponseTime: now,
		Expires:      now.Add(time.Hour),
	}
}

// BoundedStore is a store that reports its contents and its bound.
type BoundedStore interface {
	store.Store
	store.StatsReporter
	Len() int
	Bytes() int64
}

// EvictionStats fills s, bounded by maxBytes, far past its bound: every
// entry put and not kept was evicted, and Stats says so, agreeing with
// Len and Bytes.
func EvictionStats(t *testing.T, s BoundedStore, maxBytes int64) {
	t.Helper()
	const puts = 100
	body := bytes.Repeat([]byte("x"), 10<<10)
	for i := range puts {
		Put(t, s, fmt.Sprintf("k/%d", i), store.Entry{}, body)
	}
	st := s.Stats()
	if st.Entries != int64(s.Len()) || st.Bytes != s.Bytes() || st.MaxBytes != maxBytes {
		t.Errorf("Stats() = %+v, want Entries %d, Bytes %d, MaxBytes %d", st, s.Len(), s.Bytes(), maxBytes)
	}
	if st.Entries == 0 || st.Evictions != puts-st.Entries {
		t.Errorf("Stats() = %+v after %d puts, want Evictions = %d - Entries", st, puts, puts)
	}
}
