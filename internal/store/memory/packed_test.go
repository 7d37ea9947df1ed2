package memory

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

func TestPackHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"nil", nil},
		{"empty", http.Header{}},
		{"one field", http.Header{"Content-Type": {"text/plain"}}},
		{"several values", http.Header{"Vary": {"Accept-Encoding", "Accept-Language"}, "Cache-Control": {"max-age=60", "public"}}},
		{"empty value", http.Header{"X-Empty": {""}, "Etag": {`"a"`}}},
		{"no values", http.Header{"X-None": {}}},
		{"long values", http.Header{ // lengths that take two and three varint bytes
			"Link":        {strings.Repeat("l", 200)},
			"Set-Cookie":  {strings.Repeat("c", 20000), "short"},
			"Content-Md5": {strings.Repeat("m", 127), strings.Repeat("m", 128)},
		}},
		{"many fields", func() http.Header {
			h := http.Header{}
			for i := range 300 {
				h[strings.Repeat("K", i+1)] = []string{strings.Repeat("v", i)}
			}
			return h
		}()},
	} {
		packed, _ := packHeader(tc.h)
		got := unpackHeader(packed)
		if len(tc.h) == 0 {
			if got != nil {
				t.Errorf("%s: unpacked %v, want nil", tc.name, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.h) {
			t.Errorf("%s: unpacked %v, want %v", tc.name, got, tc.h)
		}
	}
}

// TestPackedValuesDoNotShareRoom: the unpacked values of one field cannot
// grow into the next field's.
func TestPackedValuesDoNotShareRoom(t *testing.T) {
	packed, _ := packHeader(http.Header{"A": {"1"}, "B": {"2"}})
	h := unpackHeader(packed)
	for name, vs := range h {
		if cap(vs) != len(vs) {
			t.Errorf("%s: cap %d, len %d: an append would write into another field", name, cap(vs), len(vs))
		}
	}
}

func FuzzPackHeader(f *testing.F) {
	f.Add("Content-Type", "text/html", "Vary", "a\x00b")
	f.Add("", "", "X", strings.Repeat("z", 300))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := http.Header{k1: {v1}}
		h[k2] = append(h[k2], v2, v1)
		packed, _ := packHeader(h)
		if got := unpackHeader(packed); !reflect.DeepEqual(got, h) {
			t.Fatalf("unpacked %q, want %q", got, h)
		}
	})
}

// TestGetKeepsTheHeaderFromTheSecondRead: the first Get of an entry
// unpacks its header without keeping it; the second keeps the map, which
// every later Get returns, also when Gets race.
func TestGetKeepsTheHeaderFromTheSecondRead(t *testing.T) {
	s := newStore(t, Options{})
	storetest.Put(t, s, "k", store.Entry{Status: 200, Header: http.Header{"Etag": {`"v"`}, "Date": {"today"}}}, []byte("x"))
	get := func() http.Header {
		e, body, err := s.Get(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		body.Close()
		if e.Header.Get("Etag") != `"v"` || e.Header.Get("Date") != "today" {
			t.Fatalf("header %v", e.Header)
		}
		return e.Header
	}
	same := func(a, b http.Header) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	first, second, third := get(), get(), get()
	if same(first, second) {
		t.Error("the first read's map was kept")
	}
	if !same(second, third) {
		t.Error("the second read's map was not kept for the third")
	}

	storetest.Put(t, s, "k", store.Entry{Status: 200, Header: http.Header{"Etag": {`"v"`}, "Date": {"today"}}}, []byte("x"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { get() })
	}
	wg.Wait()
	if a, b := get(), get(); !same(a, b) {
		t.Error("after racing reads, two later reads got different maps")
	}
}

// TestWeightCountsTheHeader: an entry's header counts against MaxBytes,
// packed and as the map it may come to keep.
func TestWeightCountsTheHeader(t *testing.T) {
	s := newStore(t, Options{MaxBytes: 4000, MaxObjectSize: 4000})
	w, err := s.Put(t.Context(), "k", store.Entry{Header: http.Header{"Link": {strings.Repeat("l", 3000)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 500)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Commit of a 500-byte body with a 3000-byte header into a 4000-byte store = %v, want ErrTooLarge", err)
	}
	// Many small fields: the map they unpack into counts too.
	h := http.Header{}
	for i := range 60 {
		h["F"+strings.Repeat("x", i%10)+string(rune('a'+i%26))+string(rune('a'+i/26))] = []string{"v"}
	}
	packed, unpacked := packHeader(h)
	if unpacked < int64(16*60) || unpacked < int64(len(packed)) {
		t.Errorf("60 fields: unpacked estimate %d bytes, packed %d: the map and its values are not counted", unpacked, len(packed))
	}
}
