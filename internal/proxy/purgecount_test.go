package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/disk"
	"github.com/hoard-cache/hoard/internal/store/memory"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// twoVariants answers every URL with Vary: Accept-Language and the tag
// "lang", so that two languages store two responses under one URL.
func twoVariants(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=600")
	w.Header().Set("Vary", "Accept-Language")
	w.Header().Set("Surrogate-Key", "lang")
	fmt.Fprintf(w, "%s in %s", r.URL.Path, r.Header.Get("Accept-Language"))
}

// TestPurgedCountsStoredResponses: "purged" is the number of stored
// responses removed, each variant counted and the variant index not, the
// same whichever way the URL is purged and whatever the store.
func TestPurgedCountsStoredResponses(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T, clock func() time.Time) store.Store
	}{
		{"memory", func(t *testing.T, clock func() time.Time) store.Store {
			st, err := memory.New(memory.Options{MaxBytes: 64 << 20, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"disk", func(t *testing.T, clock func() time.Time) store.Store {
			st, err := disk.Open(disk.Options{Path: t.TempDir(), Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"memory over redis", func(t *testing.T, clock func() time.Time) store.Store {
			front, err := memory.New(memory.Options{MaxBytes: 64 << 20, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			return tiered.New(front, openRedis(t, clock), nil)
		}},
	}
	purges := []struct {
		name  string
		purge func(h *harness) int
	}{
		{"by URL", func(h *harness) int {
			n, err := h.proxy.Purge(h.t.Context(), Purge{URLs: []string{h.front.URL + "/v"}})
			if err != nil {
				h.t.Fatal(err)
			}
			return n
		}},
		{"by PURGE", func(h *harness) int {
			res := h.do("PURGE", "/v")
			var body struct{ Purged int }
			if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != 200 {
				h.t.Fatalf("PURGE: %d %q", res.status, res.body)
			}
			return body.Purged
		}},
		{"by prefix", func(h *harness) int {
			n, err := h.proxy.Purge(h.t.Context(), Purge{Prefixes: []string{h.front.URL + "/v"}})
			if err != nil {
				h.t.Fatal(err)
			}
			return n
		}},
		{"by tag", func(h *harness) int {
			n, err := h.proxy.Purge(h.t.Context(), Purge{Tags: []string{"lang"}})
			if err != nil {
				h.t.Fatal(err)
			}
			return n
		}},
	}
	for _, sc := range stores {
		for _, pc := range purges {
			t.Run(sc.name+"/"+pc.name, func(t *testing.T) {
				h := newHarness(t, twoVariants, func(o *Options) { o.Store = sc.open(t, o.Clock) })
				for _, lang := range []string{"en", "fr"} {
					h.get("/v", "Accept-Language", lang)
					h.get("/v", "Accept-Language", lang).expect(t, 200, "/v in "+lang, "hoard; hit")
				}
				if n := pc.purge(h); n != 2 {
					t.Errorf("purged %d, want 2: the two variants of /v", n)
				}
				// A tag purge leaves the variant index, which names no tag: a
				// vary-miss then, a uri-miss otherwise; a miss either way.
				h.get("/v", "Accept-Language", "en").expect(t, 200, "/v in en", "hoard; fwd=")
			})
		}
	}
}
