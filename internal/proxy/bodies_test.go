package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestStoredResponsesOfEverySizeOnOneConnection sends hits of sizes around
// the net/http buffer boundaries, and HEADs, 304s and ranges between them, on
// one keep-alive connection: each answer must be whole and separate.
func TestStoredResponsesOfEverySizeOnOneConnection(t *testing.T) {
	bodyOf := func(size int) string {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "%08d|", i)
		}
		return b.String()[:size]
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"v`+strconv.Itoa(size)+`"`)
		_, _ = io.WriteString(w, bodyOf(size))
	})
	sizes := []int{0, 1, 2047, 2048, 2049, 3000, 3500, 4000, 4095, 4096, 4097, 8192, 16 << 10, 100 << 10, 1 << 20}
	for _, size := range sizes { // fill
		h.get("/" + strconv.Itoa(size))
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	conns := map[string]bool{}
	do := func(method string, size int, header ...string) (*http.Response, string) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			conns[i.Conn.LocalAddr().String()] = true
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace),
			method, h.front.URL+"/"+strconv.Itoa(size), nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %d: %v", method, size, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %d: reading body: %v", method, size, err)
		}
		return resp, string(b)
	}
	for round := 0; round < 2; round++ {
		for _, size := range sizes {
			resp, body := do(http.MethodGet, size)
			if resp.StatusCode != http.StatusOK || body != bodyOf(size) || resp.ContentLength != int64(size) {
				t.Fatalf("GET %d: status %d, Content-Length %d, %d body bytes (whole: %v)",
					size, resp.StatusCode, resp.ContentLength, len(body), body == bodyOf(size))
			}
			if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, "hit") {
				t.Fatalf("GET %d: Cache-Status %q, want a hit", size, got)
			}
			if resp, body := do(http.MethodHead, size); resp.StatusCode != http.StatusOK || body != "" {
				t.Fatalf("HEAD %d: status %d, %d body bytes", size, resp.StatusCode, len(body))
			}
			if resp, body := do(http.MethodGet, size, "If-None-Match", `"v`+strconv.Itoa(size)+`"`); resp.StatusCode != http.StatusNotModified || body != "" {
				t.Fatalf("conditional GET %d: status %d, %d body bytes", size, resp.StatusCode, len(body))
			}
			if size > 10 {
				resp, body := do(http.MethodGet, size, "Range", "bytes=3-9")
				if resp.StatusCode != http.StatusPartialContent || body != bodyOf(size)[3:10] {
					t.Fatalf("range GET %d: status %d, body %q", size, resp.StatusCode, body)
				}
			}
		}
	}
	if len(conns) != 1 {
		t.Fatalf("the requests used %d connections, want 1 kept alive throughout", len(conns))
	}
	h.wantOrigin(int64(len(sizes)))
}

// A stored body larger than maxBodyWrite leaves in pieces, and arrives
// whole and in order, on a hit as on the miss that stored it.
func TestLargeStoredBodyInPieces(t *testing.T) {
	body := make([]byte, 2*maxBodyWrite+12345)
	for i := range body {
		body[i] = byte(i % 251)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(body)
	})
	h.get("/big").expect(t, 200, string(body), "hoard; fwd=uri-miss")
	h.get("/big").expect(t, 200, string(body), "hoard; hit")
	h.get("/big", "Range", "bytes=600000-600009").expect(t, 206, string(body[600000:600010]), "hoard; hit")
}

// splitWriter passes every byte on, in order, in writes of at most
// maxBodyWrite.
func TestSplitWriter(t *testing.T) {
	var sizes []int
	var got []byte
	w := writerFunc(func(p []byte) (int, error) {
		sizes = append(sizes, len(p))
		got = append(got, p...)
		return len(p), nil
	})
	in := make([]byte, 2*maxBodyWrite+1)
	for i := range in {
		in[i] = byte(i)
	}
	n, err := splitWriter{w}.Write(in)
	if n != len(in) || err != nil || !bytes.Equal(got, in) {
		t.Fatalf("wrote %d, %v; bytes equal: %v", n, err, bytes.Equal(got, in))
	}
	if want := []int{maxBodyWrite, maxBodyWrite, 1}; !slices.Equal(sizes, want) {
		t.Errorf("writes of %v, want %v", sizes, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A 204 served from the store carries no Content-Length (RFC 9110 §8.6).
func Test204HitHasNoContentLength(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(http.StatusNoContent)
	})
	h.get("/nc")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /nc HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", strings.TrimPrefix(h.front.URL, "http://"))
	raw, _ := io.ReadAll(conn)
	if strings.Contains(string(raw), "Content-Length") {
		t.Errorf("204 hit carries Content-Length:\n%s", raw)
	}
}

// A response without Content-Type reaches the client without one, on
// misses, hits and ranges alike: a proxy passes the origin's fields and adds
// no guessed media type (RFC 9110 §8.3).
func TestNoContentTypeIsNotSniffed(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the origin sends none
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "<html><body>looks like HTML</body></html>")
	})
	for i, want := range []string{"miss", "hit"} {
		res := h.get("/untyped")
		if !strings.Contains(res.header.Get("Cache-Status"), want) {
			t.Fatalf("request %d: Cache-Status %q, want a %s", i+1, res.header.Get("Cache-Status"), want)
		}
		if ct, ok := res.header["Content-Type"]; ok {
			t.Errorf("%s: Content-Type %q added to a response that had none", want, ct)
		}
	}
	ranged := h.get("/untyped", "Range", "bytes=0-5")
	if ct, ok := ranged.header["Content-Type"]; ok || ranged.status != http.StatusPartialContent {
		t.Errorf("range hit: status %d, Content-Type %q; want 206 without one", ranged.status, ct)
	}
}
