package memory

import (
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
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
		got := unpackHeader(packHeader(tc.h))
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
	h := unpackHeader(packHeader(http.Header{"A": {"1"}, "B": {"2"}}))
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
		if got := unpackHeader(packHeader(h)); !reflect.DeepEqual(got, h) {
			t.Fatalf("unpacked %q, want %q", got, h)
		}
	})
}

// TestGetUnpacksOnce: every Get of an entry returns the one header map,
// unpacked by the first, also when the first Gets race.
func TestGetUnpacksOnce(t *testing.T) {
	s := newStore(t, Options{})
	putBody(t, s, "k", store.Entry{Status: 200, Header: http.Header{"Etag": {`"v"`}, "Date": {"today"}}}, []byte("x"))
	maps := make([]http.Header, 8)
	var wg sync.WaitGroup
	for i := range maps {
		wg.Go(func() {
			e, body, err := s.Get(t.Context(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			body.Close()
			maps[i] = e.Header
		})
	}
	wg.Wait()
	for i, m := range maps {
		if m == nil || reflect.ValueOf(m).UnsafePointer() != reflect.ValueOf(maps[0]).UnsafePointer() {
			t.Fatalf("Get %d returned another map (%v) than Get 0", i, m)
		}
	}
	if maps[0].Get("Etag") != `"v"` || maps[0].Get("Date") != "today" {
		t.Errorf("header %v", maps[0])
	}
}
