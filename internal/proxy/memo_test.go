package proxy

import (
	"io"
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

// Two Handlers over one in-process store: an entry stored by one keeps a
// flat memo whose numbers are in that Handler's tables, and the other must
// not read them in its own. Here the second Handler's directive number 1
// is "no-cache" while the first's is "max-age=600": read with the wrong
// table, /a would be revalidated at every request. (Its Vary number 1
// differs too, but a variant is selected by its key, which a misread
// memo does not change.)
func TestFlatMemoOfAnotherHandler(t *testing.T) {
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

// An entry whose directives the tables cannot number (several
// Cache-Control lines, or a full table) keeps its memo with pointers, and
// reads the same as one with a flat memo.
func TestStoredMemoFallsBack(t *testing.T) {
	h := newMemoryHandler(t)
	entry := func(lines ...string) store.Entry {
		return store.Entry{Status: 200, Size: 1234, Header: http.Header{"Cache-Control": lines, "Vary": {"Accept-Encoding"}}}
	}
	flat, ok := h.storedMemo(entry("max-age=60"), 1234).(*store.FlatMemo)
	if !ok {
		t.Fatalf("one Cache-Control line: memo %T; want *store.FlatMemo", h.storedMemo(entry("max-age=60"), 1234))
	}
	m := h.memoOf(store.Entry{Memo: flat})
	if m.cc.MaxAge.Value != 60*time.Second || len(m.varyNames) != 1 || m.varyNames[0] != "Accept-Encoding" || m.contentLength != "1234" {
		t.Errorf("expanded flat memo: max-age %v, Vary %q, Content-Length %q", m.cc.MaxAge, m.varyNames, m.contentLength)
	}
	heavy, ok := h.storedMemo(entry("max-age=60", "public"), 1234).(*memo)
	if !ok || heavy.cc.MaxAge.Value != 60*time.Second || !heavy.cc.Public || heavy.contentLength != "1234" {
		t.Errorf("two Cache-Control lines: memo %+v; want a *memo with max-age=60, public", heavy)
	}
	for i := range maxShared {
		h.directives.of(http.Header{"Cache-Control": {"max-age=" + strconv.Itoa(1000+i)}})
	}
	if got, ok := h.storedMemo(entry("max-age=61"), 1234).(*memo); !ok || got.cc.MaxAge.Value != 61*time.Second {
		t.Errorf("full table: memo %T; want a *memo with max-age=61", h.storedMemo(entry("max-age=61"), 1234))
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

// TestFlatMemoHoldsNoPointer: a flatMemo is kept as bytes, among which the
// garbage collector would not see a pointer.
func TestFlatMemoHoldsNoPointer(t *testing.T) {
	var check func(reflect.Type, string)
	check = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		case reflect.Array:
			check(typ.Elem(), path+"[]")
		case reflect.Struct:
			for i := range typ.NumField() {
				check(typ.Field(i).Type, path+"."+typ.Field(i).Name)
			}
		default:
			t.Errorf("flatMemo%s is a %s, which holds a pointer", path, typ.Kind())
		}
	}
	check(reflect.TypeFor[flatMemo](), "")
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
