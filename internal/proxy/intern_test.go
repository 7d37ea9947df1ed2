package proxy

import (
	"net/http"
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

func TestValueTableIsBounded(t *testing.T) {
	var table valueTable
	for i := range 3 * maxSharedValues {
		table.share(http.Header{"Content-Length": {strconv.Itoa(i)}})
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
