package proxy

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// Two Handlers over one store: an entry stored by one keeps a Note whose
// numbers are in that Handler's tables, and the other must not read them
// in its own. Here the second Handler's directive number 1
// is "no-cache" while the first's is "max-age=600": read with the wrong
// table, /a would be revalidated at every request. (Its Vary number 1
// differs too, but a variant is selected by its key, which a misread
// memo does not change.)
func TestNoteOfAnotherHandler(t *testing.T) {
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("Vary", "Accept-Encoding")
			w.Write([]byte("a:" + r.Header.Get("Accept-Encoding")))
		default:
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Vary", "Accept-Language")
			w.Header().Set("ETag", `"b"`)
			w.Write([]byte("b"))
		}
	})
	u, _ := url.Parse(o.srv.URL)
	shared, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newHandler := func() *httptest.Server {
		h, err := New(Options{Origin: u, Store: shared})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(srv *httptest.Server, path, encoding string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = "hoard.test" // one cache key through either Handler
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body), resp.Header.Get("Cache-Status")
	}

	second := newHandler()
	get(second, "/b", "x") // the second Handler's tables: "no-cache", Accept-Language
	first := newHandler()
	get(first, "/a", "gzip") // stored with the first's numbers
	before := o.count.Load()

	for range 3 {
		body, status := get(second, "/a", "gzip")
		if body != "a:gzip" || !strings.Contains(status, "hit") {
			t.Fatalf("second Handler, GET /a (gzip): body %q, Cache-Status %q; want a:gzip from the cache", body, status)
		}
	}
	if n := o.count.Load() - before; n != 0 {
		t.Errorf("the origin was asked %d times; want 0", n)
	}
	// Another encoding is a variant not stored yet.
	if body, status := get(second, "/a", "br"); body != "a:br" || strings.Contains(status, "hit") {
		t.Errorf("GET /a (br): body %q, Cache-Status %q; want a:br from the origin", body, status)
	}
}

// The shared tables number values from 1, hand back the same copy for the
// same raw value, and past maxShared derive without keeping (number 0);
// reads, by number and by raw value, run beside additions.
func TestSharedTable(t *testing.T) {
	var tab sharedTable[string]
	var derived atomic.Int64
	derive := func(raw string) func() *string {
		return func() *string { derived.Add(1); s := strings.ToUpper(raw); return &s }
	}
	a, na := tab.of("a", derive("a"))
	a2, na2 := tab.of("a", derive("a"))
	if na != 1 || na2 != 1 || a != a2 || *a != "A" || derived.Load() != 1 {
		t.Fatalf("of(a) twice: %q #%d, %q #%d, %d derivations; want the same A #1, derived once", *a, na, *a2, na2, derived.Load())
	}
	done := make(chan struct{})
	go func() { // reads while the table fills
		defer close(done)
		for range 20000 {
			if v := tab.at(na); *v != "A" {
				t.Errorf("at(%d) = %q", na, *v)
				return
			}
			if v, n := tab.of("a", derive("a")); n != na || v != a {
				t.Errorf("of(a) while filling = %q #%d", *v, n)
				return
			}
		}
	}()
	for i := 2; i <= maxShared; i++ {
		raw := "v" + strconv.Itoa(i)
		if v, n := tab.of(raw, derive(raw)); n != uint32(i) || *v != strings.ToUpper(raw) {
			t.Fatalf("of(%s) = %q #%d; want #%d", raw, *v, n, i)
		}
	}
	<-done
	if d := derived.Load(); d != maxShared {
		t.Errorf("%d derivations for %d values", d, maxShared)
	}
	v, n := tab.of("full", derive("full"))
	if n != 0 || *v != "FULL" {
		t.Errorf("of on a full table = %q #%d; want FULL #0", *v, n)
	}
	if v, n := tab.of("v7", derive("v7")); n != 7 || *v != "V7" {
		t.Errorf("of(v7) on a full table = %q #%d; want V7 #7", *v, n)
	}
}

// Every entry keeps its memo in its Note, also with several Cache-Control
// lines or a CDN-Cache-Control, and reads the same from it as derived;
// past a full table an entry keeps none, and its memo is derived on each
// read.
func TestStoredNote(t *testing.T) {
	h := newMemoryHandler(t)
	entry := func(h http.Header) store.Entry {
		h["Vary"] = []string{"Accept-Encoding"}
		h["Date"] = []string{"Tue, 01 Dec 2026 12:00:00 GMT"}
		h["Last-Modified"] = []string{"Tue, 01 Dec 2026 10:00:00 GMT"}
		return store.Entry{Status: 200, Size: 1234, Header: h,
			RequestTime: time.Unix(1e9, 0), ResponseTime: time.Unix(1e9+2, 0)}
	}
	for _, tt := range []struct {
		name   string
		header http.Header
		check  func(m memo) bool
	}{
		{"one Cache-Control line", http.Header{"Cache-Control": {"max-age=60"}},
			func(m memo) bool { return m.cc.MaxAge.Value == 60*time.Second }},
		{"two Cache-Control lines", http.Header{"Cache-Control": {"max-age=60", "public"}},
			func(m memo) bool { return m.cc.MaxAge.Value == 60*time.Second && m.cc.Public }},
		{"CDN-Cache-Control (RFC 9213)", http.Header{"Cache-Control": {"no-cache"}, "Cdn-Cache-Control": {"max-age=600"}},
			func(m memo) bool { return m.cc.MaxAge.Value == 600*time.Second && !m.cc.NoCache }},
		{"a heuristic lifetime (RFC 9111 §4.2.2)", http.Header{},
			func(m memo) bool { return m.facts.Lifetime.Heuristic && m.facts.Lifetime.Duration == 12*time.Minute }},
		{"a line starting with a zero byte", http.Header{"Cache-Control": {"\x00max-age=5"}},
			func(m memo) bool { return m.cc.MaxAge.Value == 0 }},
	} {
		e := entry(tt.header)
		e.Note = h.storedNote(e, 1234)
		if e.Note == "" {
			t.Errorf("%s: no Note", tt.name)
			continue
		}
		got, ok := h.readNote(e.Note, e.Size)
		if !ok {
			t.Errorf("%s: Note %q not read", tt.name, e.Note)
			continue
		}
		if want := h.newMemo(e, -1); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: memo from the Note %+v, derived %+v", tt.name, got, want)
		}
		if !tt.check(got) || got.contentLength != "1234" || len(got.varyNames) != 1 {
			t.Errorf("%s: memo %+v, directives %+v", tt.name, got, *got.cc)
		}
	}
	for i := range maxShared {
		h.directives.of(http.Header{"Cache-Control": {"max-age=" + strconv.Itoa(1000+i)}})
	}
	e := entry(http.Header{"Cache-Control": {"max-age=61"}})
	if note := h.storedNote(e, 1234); note != "" {
		t.Errorf("full table: Note %q; want none", note)
	}
	if m := h.memoOf(e); m.cc.MaxAge.Value != 61*time.Second || m.contentLength != "1234" {
		t.Errorf("full table: memo %+v; want max-age=61 derived", m)
	}
}

// A Note that is not this Handler's, or is damaged, is ignored: the memo
// is derived from the entry's fields, never misread, never a panic.
func TestDamagedNotes(t *testing.T) {
	h := newMemoryHandler(t)
	e := store.Entry{Status: 200, Size: 1234, Header: http.Header{
		"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Encoding"}}}
	good := h.storedNote(e, 1234)
	want := h.newMemo(e, -1)
	set := func(at int, b ...byte) string {
		n := []byte(good)
		copy(n[at:], b)
		return string(n)
	}
	for _, tt := range []struct {
		name string
		note string
		read bool // the Note is read; false: the memo is derived
	}{
		{"intact", good, true},
		{"none", "", false},
		{"short", good[:noteLength-1], false},
		{"too long", good + strings.Repeat("1", noteMax), false},
		{"another owner", set(noteOwner, 0xde, 0xad), false},
		{"directives number 0", set(noteCC, 0, 0, 0, 0), false},
		{"directives number not handed out", set(noteCC, 0, 1, 0, 0), false},
		{"directives number past the table", set(noteCC, 0xff, 0xff, 0xff, 0xff), false},
		{"Vary number not handed out", set(noteVary, 0, 1, 0, 0), false},
		{"unknown flag", set(noteFlags, 0x80), false},
		{"digits of another length", set(noteLength, '9'), true},
		{"not digits", set(noteLength, 'x'), true},
	} {
		e := e
		e.Note = tt.note
		_, read := h.readNote(tt.note, e.Size)
		if read != tt.read {
			t.Errorf("%s: Note read = %v, want %v", tt.name, read, tt.read)
		}
		got := h.memoOf(e)
		if got.cc == nil || got.cc.MaxAge.Value != 60*time.Second || !slices.Equal(got.varyNames, want.varyNames) ||
			got.facts != want.facts || (got.contentLength != "1234" && got.contentLength != "") {
			t.Errorf("%s: memo %+v, want %+v (or without its Content-Length)", tt.name, got, want)
		}
	}
}

// FuzzNote reads Notes of this Handler's with any fields: readNote never
// panics, and a memo it accepts has directives and, if any, the entry's
// Content-Length.
func FuzzNote(f *testing.F) {
	h := newMemoryHandler(f)
	e := store.Entry{Status: 200, Size: 1234, Header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"A"}}}
	good := h.storedNote(e, 1234)
	f.Add([]byte(good[8:]), int64(1234))
	f.Add([]byte(good[8:noteLength]), int64(0))                                   // no digits
	f.Add([]byte(good[8:noteLength]+"01234"), int64(1234))                        // a leading zero
	f.Add([]byte(good[8:noteLength]+"9223372036854775808"), int64(math.MaxInt64)) // past int64
	f.Fuzz(func(t *testing.T, rest []byte, size int64) {
		note := good[:8] + string(rest)
		m, ok := h.readNote(note, size)
		if !ok {
			return
		}
		if m.cc == nil {
			t.Fatalf("Note %q read without directives", note)
		}
		if m.contentLength != "" && m.contentLength != strconv.FormatInt(size, 10) {
			t.Fatalf("Note %q read with Content-Length %q for a body of %d bytes", note, m.contentLength, size)
		}
	})
}

// A hit reads its memo from the Note without allocating.
func TestReadNoteAllocatesNothing(t *testing.T) {
	h := newMemoryHandler(t)
	e := store.Entry{Status: 200, Size: 1234, Header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"A"}}}
	note := h.storedNote(e, 1234)
	if n := testing.AllocsPerRun(100, func() {
		if m, ok := h.readNote(note, 1234); !ok || m.contentLength != "1234" {
			t.Fatalf("readNote = %+v, %v", m, ok)
		}
	}); n != 0 {
		t.Errorf("readNote allocates %v times", n)
	}
}

// Directives that CDN-Cache-Control overrides are not shared under the
// Cache-Control value alone: /plain, no-cache, must not borrow the
// max-age=600 that CDN-Cache-Control gave /cdn, whose Cache-Control is
// the same no-cache.
func TestCDNDirectivesAreNotShared(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"e"`)
		if r.URL.Path == "/cdn" {
			w.Header().Set("CDN-Cache-Control", "max-age=600")
		}
		if r.Header.Get("If-None-Match") == `"e"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, r.URL.Path)
	})
	h.get("/cdn").expect(t, http.StatusOK, "/cdn", "hoard; fwd=uri-miss")
	h.get("/cdn").expect(t, http.StatusOK, "/cdn", "hoard; hit")
	h.get("/plain").expect(t, http.StatusOK, "/plain", "hoard; fwd=uri-miss")
	h.get("/plain").expect(t, http.StatusOK, "/plain", "hoard; fwd=stale; fwd-status=304")
	h.wantOrigin(3)
}

// BenchmarkNewMemoParallel derives the memo of an entry as every hit on
// an entry read from disk or Redis does (they keep none), from every P.
func BenchmarkNewMemoParallel(b *testing.B) {
	h := newMemoryHandler(b)
	e := store.Entry{Status: http.StatusOK, Size: 1024, Header: http.Header{
		"Cache-Control": {"public, max-age=3600"}, "Vary": {"Accept-Encoding"},
		"Date": {"Tue, 01 Dec 2026 12:00:00 GMT"}, "Etag": {`"v1"`},
	}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m := h.newMemo(e, -1); m.contentLength != "1024" {
				b.Fatalf("Content-Length %q", m.contentLength)
			}
		}
	})
}

// TestKeptDirectivesOwnTheirStrings: the directives kept in the shared
// table outlive the header they were parsed from, whose strings may be
// views of a stored entry's bytes (the memory store's are): the field
// names they list must be copies, or one would keep that entry, body and
// all, alive for as long as the table.
func TestKeptDirectivesOwnTheirStrings(t *testing.T) {
	h := newMemoryHandler(t)
	entry := []byte(`no-cache=x-foo, private="x-bar", max-age=60` + strings.Repeat("body", 1000))
	line := unsafe.String(&entry[0], len(`no-cache=x-foo, private="x-bar", max-age=60`))
	d, n := h.directives.of(http.Header{"Cache-Control": {line}})
	if n == 0 || len(d.NoCacheFields) != 1 || len(d.PrivateFields) != 1 {
		t.Fatalf("directives #%d, no-cache %q, private %q", n, d.NoCacheFields, d.PrivateFields)
	}
	start, end := uintptr(unsafe.Pointer(&entry[0])), uintptr(unsafe.Pointer(&entry[len(entry)-1]))
	for _, name := range append(slices.Clone(d.NoCacheFields), d.PrivateFields...) {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(name))); p >= start && p <= end {
			t.Errorf("kept field name %q points into the entry's bytes", name)
		}
	}
}

// newMemoryHandler returns a Handler over a memory store of its own, for
// tests of its memos that send no request.
func newMemoryHandler(tb testing.TB) *Handler {
	tb.Helper()
	mem, err := memory.New(memory.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mem.Close() })
	h, err := New(Options{Origin: &url.URL{Scheme: "http", Host: "origin.test"}, Store: mem})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}
