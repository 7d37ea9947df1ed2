package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

// A vary miss is answered with the variant its own request selects, even
// when it offers the origin If-Modified-Since from a sibling variant and the
// origin answers 304 (the same Last-Modified for every variant): the client
// that does not accept gzip never gets the gzip body (RFC 9111 §4.1).
func TestVaryMissServesOnlyItsOwnVariant(t *testing.T) {
	lm := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !lm.After(ims) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("GZIPPED-BYTES"))
			return
		}
		w.Write([]byte("plain text"))
	})
	h.get("/v", "Accept-Encoding", "gzip").expect(t, 200, "GZIPPED-BYTES", "hoard; fwd=uri-miss")
	r := h.get("/v", "Accept-Encoding", "identity")
	t.Logf("second: %q CE=%q CS=%q", r.body, r.header.Get("Content-Encoding"), r.header.Get("Cache-Status"))
	r.expect(t, 200, "plain text", "hoard; fwd=vary-miss")
	// and it is now stored under the identity key:
	r = h.get("/v", "Accept-Encoding", "identity")
	t.Logf("third: %q CE=%q CS=%q", r.body, r.header.Get("Content-Encoding"), r.header.Get("Cache-Status"))
}

// A vary miss offers a stored sibling's entity tag to the origin. When that
// sibling is replaced (by another client's request) before the origin's 304
// arrives, the 304 names the response the lookup saw, not the one now
// stored: Hoard neither serves nor stores the new body under the old header
// and length, and asks again without conditions instead.
func TestVaryMiss304ForReplacedSiblingAsksAgain(t *testing.T) {
	var h *harness
	var gzipKey string
	const newBody = "gzip, replaced by a longer body"
	h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding")
		enc := r.Header.Get("Accept-Encoding")
		if r.Header.Get("If-None-Match") == `"gzip-1"` {
			// Another request stores a new gzip response meanwhile.
			e := store.Entry{
				Status:        http.StatusOK,
				Header:        http.Header{"Cache-Control": {"max-age=600"}, "Vary": {"Accept-Encoding"}, "Etag": {`"gzip-2"`}},
				RequestTime:   h.clock.Now(),
				ResponseTime:  h.clock.Now(),
				RequestHeader: http.Header{"Accept-Encoding": {"gzip"}},
				Size:          int64(len(newBody)),
			}
			bw, err := h.store.Put(context.Background(), gzipKey, e)
			if err != nil {
				t.Error(err)
			} else if _, err := bw.Write([]byte(newBody)); err != nil || bw.Commit() != nil {
				t.Errorf("storing the new gzip response: %v", err)
			}
			w.Header().Set("ETag", `"gzip-1"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"`+enc+`-1"`)
		io.WriteString(w, enc+" body")
	})
	h.get("/v", "Accept-Encoding", "gzip").expect(t, http.StatusOK, "gzip body", "hoard; fwd=uri-miss")
	req := httptest.NewRequest(http.MethodGet, h.front.URL+"/v", nil)
	idx, body, err := h.store.Get(context.Background(), primaryKey(req))
	if err != nil || len(idx.Variants) != 1 {
		t.Fatalf("the URL's index: %v, variants %q", err, idx.Variants)
	}
	body.Close()
	gzipKey = idx.Variants[0]

	for i := range 2 {
		r := h.get("/v", "Accept-Encoding", "br")
		if r.status != http.StatusOK || r.body != "br body" || r.header.Get("Content-Length") != strconv.Itoa(len("br body")) {
			t.Errorf("br request %d: status %d, Content-Length %q, body %q (Cache-Status %q); want 200 and the br body",
				i, r.status, r.header.Get("Content-Length"), r.body, r.header.Get("Cache-Status"))
		}
	}
	h.get("/v", "Accept-Encoding", "gzip").expect(t, http.StatusOK, newBody, "hoard; hit")
}
