package proxy

import (
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

func TestRangeRequests(t *testing.T) {
	body := "0123456789abcdefghij"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			t.Errorf("origin received Range %q: the miss must fetch the whole object", r.Header.Get("Range"))
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"r1"`)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	})
	// A range on a miss: answered 206 while the whole object is stored.
	r := h.get("/r", "Range", "bytes=2-5")
	r.expect(t, 206, "2345", "hoard; fwd=uri-miss; fwd-status=200")
	if got := r.header.Get("Content-Range"); got != "bytes 2-5/20" {
		t.Errorf("Content-Range = %q", got)
	}
	// Later ranges hit.
	h.get("/r", "Range", "bytes=-3").expect(t, 206, "hij", "hoard; hit")
	h.get("/r", "Range", "bytes=18-100").expect(t, 206, "ij", "hoard; hit")
	h.get("/r").expect(t, 200, body, "hoard; hit")
	// If-Range: a matching tag gets the range, another the whole response.
	h.get("/r", "Range", "bytes=0-1", "If-Range", `"r1"`).expect(t, 206, "01", "hoard; hit")
	h.get("/r", "Range", "bytes=0-1", "If-Range", `"old"`).expect(t, 200, body, "hoard; hit")
	// Unsatisfiable.
	r = h.get("/r", "Range", "bytes=50-")
	r.expect(t, 416, "", "hoard; hit")
	if got := r.header.Get("Content-Range"); got != "bytes */20" {
		t.Errorf("416 Content-Range = %q, want bytes */20", got)
	}
	// Several ranges: multipart/byteranges.
	r = h.get("/r", "Range", "bytes=0-1, 10-11")
	r.expect(t, 206, "", "hoard; hit")
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q (%v), want multipart/byteranges", r.header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b := new(strings.Builder)
		fmt.Fprint(b, p.Header.Get("Content-Range"), "=")
		buf := make([]byte, 64)
		n, _ := p.Read(buf)
		b.Write(buf[:n])
		parts = append(parts, b.String())
	}
	if want := "[bytes 0-1/20=01 bytes 10-11/20=ab]"; fmt.Sprint(parts) != want {
		t.Errorf("parts %v, want %s", parts, want)
	}
	h.wantOrigin(1)
}

func TestRangeTooLargePassesThrough(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.Header.Get("Range") == "bytes=0-3" {
			w.Header().Set("Content-Range", "bytes 0-3/100")
			w.WriteHeader(http.StatusPartialContent)
			fmt.Fprint(w, "0123")
			return
		}
		fmt.Fprint(w, strings.Repeat("x", 100))
	}, func(o *Options) { o.MaxObjectSize = 50 })
	h.get("/big", "Range", "bytes=0-3").expect(t, 206, "0123", "hoard; fwd=uri-miss; fwd-status=206; detail=too-large")
}
