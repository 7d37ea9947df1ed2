package proxy

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func sameSlice(a, b []string) bool {
	return len(a) > 0 && len(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func TestValueTableShares(t *testing.T) {
	var table valueTable
	header := func(etag string) http.Header {
		return http.Header{
			"Content-Type":  {"text/html; charset=utf-8"},
			"Cache-Control": {"max-age=60"},
			"Date":          {"Wed, 25 Nov 2026 08:00:00 GMT"},
			"Etag":          {etag},
			"Vary":          {"Accept-Encoding", "Accept-Language"},
			"Server":        {strings.Repeat("s", maxSharedValue+1)},
		}
	}
	a, b := header(`"a"`), header(`"b"`)
	table.share(a)
	table.share(b)
	for _, name := range []string{"Content-Type", "Cache-Control", "Date"} {
		if !sameSlice(a[name], b[name]) {
			t.Errorf("%s: the two headers keep separate copies of %q", name, a[name])
		}
	}
	for _, name := range []string{"Etag", "Vary", "Server"} { // not shared, several values, too long
		if sameSlice(a[name], b[name]) {
			t.Errorf("%s: shared, want each header's own", name)
		}
	}
	if b.Get("Etag") != `"b"` || len(b["Vary"]) != 2 || b.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("sharing changed the header: %v", b)
	}
	// A shared slice has no room to grow into: appending to it copies.
	grown := append(b["Date"], "x")
	if sameSlice(grown, a["Date"]) {
		t.Error("appending to a shared value wrote into the table's slice")
	}
}

// TestValueTableMovesTheRest: the values that are not shared leave the
// array the header was cloned into (which held every field's) for one of
// their own, exactly as large.
func TestValueTableMovesTheRest(t *testing.T) {
	var table valueTable
	cloned := http.Header{
		"Content-Type":   {"text/plain"},
		"Etag":           {`"x"`},
		"Content-Length": {"5"},
		"Link":           {"</a>; rel=preload", "</b>; rel=preload"},
	}.Clone() // one array for all the values
	before := map[string][]string{}
	for k, vs := range cloned {
		before[k] = vs
	}
	table.share(cloned)
	rest := 0
	for _, name := range []string{"Etag", "Content-Length", "Link"} {
		if sameSlice(cloned[name], before[name]) {
			t.Errorf("%s still in the array the header was cloned into", name)
		}
		if !slices.Equal(cloned[name], before[name]) {
			t.Errorf("%s = %q, want %q", name, cloned[name], before[name])
		}
		rest += cap(cloned[name])
	}
	if rest != 4 {
		t.Errorf("the unshared values have %d slots, want 4 (one array, no spare room)", rest)
	}
}

// TestStoredHeadersShareValues: two responses stored through the proxy keep
// one copy of the values they have in common.
func TestStoredHeadersShareValues(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Etag", `"`+r.URL.Path+`"`)
		io.WriteString(w, r.URL.Path)
	})
	h.get("/one")
	h.get("/two")
	stored := func(path string) http.Header {
		e, body, err := h.store.Get(t.Context(), "http://"+h.front.Listener.Addr().String()+path)
		if err != nil {
			t.Fatalf("%s not stored: %v", path, err)
		}
		body.Close()
		return e.Header
	}
	one, two := stored("/one"), stored("/two")
	for _, name := range []string{"Content-Type", "Cache-Control"} {
		if !sameSlice(one[name], two[name]) {
			t.Errorf("%s: the stored headers keep separate copies", name)
		}
	}
	if one.Get("Etag") != `"/one"` || two.Get("Etag") != `"/two"` {
		t.Errorf("ETags %q and %q, want each response's own", one.Get("Etag"), two.Get("Etag"))
	}
}

func TestValueTableIsBounded(t *testing.T) {
	var table valueTable
	for i := range 3 * maxSharedValues {
		table.share(http.Header{"Date": {strconv.Itoa(i)}})
		if n := len(table.m); n > maxSharedValues {
			t.Fatalf("after %d values the table holds %d, more than %d", i+1, n, maxSharedValues)
		}
	}
}

func TestContentLengthField(t *testing.T) {
	stored := http.Header{"Content-Length": {"1024"}}
	if got := contentLengthField(stored, 1024); !sameSlice(got, stored["Content-Length"]) {
		t.Errorf("contentLengthField(1024) = %q, not the stored field", got)
	}
	if got := contentLengthField(stored, 10); len(got) != 1 || got[0] != "10" {
		t.Errorf("contentLengthField(10) = %q, want [10]", got)
	}
	if got := contentLengthField(http.Header{}, 0); len(got) != 1 || got[0] != "0" {
		t.Errorf("contentLengthField without a field = %q, want [0]", got)
	}
}
