package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMissThenHit(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	})
	h.get("/a").expect(t, 200, "hello", "hoard; fwd=uri-miss; fwd-status=200; ttl=60; stored")
	h.clock.Advance(10 * time.Second)
	r := h.get("/a")
	r.expect(t, 200, "hello", "hoard; hit; ttl=50")
	if got := r.header.Get("Age"); got != "10" {
		t.Errorf("Age = %q, want 10", got)
	}
	if got := r.header.Get("Via"); got != "1.1 hoard" {
		t.Errorf("Via = %q, want 1.1 hoard", got)
	}
	h.wantOrigin(1)
}

func TestExpiryRefetches(t *testing.T) {
	n := 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", n)
	})
	h.get("/a").expect(t, 200, "v1", "hoard; fwd=uri-miss")
	h.clock.Advance(61 * time.Second)
	h.get("/a").expect(t, 200, "v2", "hoard; fwd=stale; fwd-status=200")
	h.get("/a").expect(t, 200, "v2", "hoard; hit")
	h.wantOrigin(2)
}

func TestNoStoreNeverStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store, max-age=60")
		fmt.Fprint(w, "secret")
	})
	h.get("/a").expect(t, 200, "secret", "hoard; fwd=uri-miss; fwd-status=200; detail=no-store")
	h.get("/a").expect(t, 200, "secret", "hoard; fwd=uri-miss")
	h.wantOrigin(2)
}

func TestETagRevalidation(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Refreshed", "yes")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "body-v1")
	})
	h.get("/e").expect(t, 200, "body-v1", "hoard; fwd=uri-miss")
	h.clock.Advance(11 * time.Second)
	r := h.get("/e")
	r.expect(t, 200, "body-v1", "hoard; fwd=stale; fwd-status=304; ttl=10; stored")
	if got := h.origin.last().Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("origin saw If-None-Match %q, want \"v1\"", got)
	}
	if r.header.Get("X-Refreshed") != "yes" {
		t.Errorf("304 fields not merged into the served response: %v", r.header)
	}
	// The refreshed entry is fresh again and carries the 304's fields.
	r = h.get("/e")
	r.expect(t, 200, "body-v1", "hoard; hit")
	if r.header.Get("X-Refreshed") != "yes" {
		t.Errorf("304 fields not stored: %v", r.header)
	}
	h.wantOrigin(2)
}

func TestLastModifiedRevalidation(t *testing.T) {
	lm := "Tue, 24 Nov 2026 12:00:00 GMT"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Last-Modified", lm)
		if r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "lm-body")
	})
	h.get("/lm").expect(t, 200, "lm-body", "hoard; fwd=uri-miss; fwd-status=200; ttl=")
	h.get("/lm").expect(t, 200, "lm-body", "hoard; fwd=stale; fwd-status=304")
	if got := h.origin.last().Header.Get("If-Modified-Since"); got != lm {
		t.Errorf("origin saw If-Modified-Since %q, want %q", got, lm)
	}
	h.wantOrigin(2)
}

func TestVaryKeepsVariantsSideBySide(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang=%s", r.Header.Get("Accept-Language"))
	})
	h.get("/v", "Accept-Language", "en").expect(t, 200, "lang=en", "hoard; fwd=uri-miss")
	h.get("/v", "Accept-Language", "fr").expect(t, 200, "lang=fr", "hoard; fwd=vary-miss")
	h.get("/v", "Accept-Language", "en").expect(t, 200, "lang=en", "hoard; hit")
	h.get("/v", "Accept-Language", "fr").expect(t, 200, "lang=fr", "hoard; hit")
	// Whitespace and line splitting do not make a new variant (RFC 9111 §4.1).
	h.get("/v", "Accept-Language", "de,  it").expect(t, 200, "lang=de,  it", "hoard; fwd=vary-miss")
	h.get("/v", "Accept-Language", "de", "Accept-Language", "it").expect(t, 200, "lang=de,  it", "hoard; hit")
	h.get("/v").expect(t, 200, "lang=", "hoard; fwd=vary-miss")
	h.wantOrigin(4)
}

func TestVaryStarNeverMatches(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "*")
		fmt.Fprint(w, "x")
	})
	h.get("/s").expect(t, 200, "x", "hoard; fwd=uri-miss; fwd-status=200; detail=vary-star")
	h.get("/s").expect(t, 200, "x", "hoard; fwd=uri-miss")
	h.wantOrigin(2)
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/other")
			w.Header().Set("Content-Location", "http://elsewhere.example/x")
			w.WriteHeader(http.StatusCreated)
		default:
			w.Header().Set("Cache-Control", "max-age=600")
			fmt.Fprint(w, r.URL.Path)
		}
	})
	h.get("/target")
	h.get("/other")
	h.get("/target").expect(t, 200, "/target", "hoard; hit")
	h.do(http.MethodPost, "/target").expect(t, 201, "", "hoard; fwd=method; fwd-status=201")
	h.get("/target").expect(t, 200, "/target", "hoard; fwd=uri-miss")
	h.get("/other").expect(t, 200, "/other", "hoard; fwd=uri-miss")
	h.wantOrigin(5)
}

func TestFailedUnsafeMethodDoesNotInvalidate(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprint(w, "kept")
	})
	h.get("/k")
	h.do(http.MethodDelete, "/k").expect(t, 500, "", "hoard; fwd=method")
	h.get("/k").expect(t, 200, "kept", "hoard; hit")
}

func TestHeadAnsweredFromStoredGet(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "0123456789")
	})
	h.get("/h")
	r := h.do(http.MethodHead, "/h")
	r.expect(t, 200, "", "hoard; hit")
	if r.body != "" || r.header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: body %q, Content-Length %q; want empty body, 10", r.body, r.header.Get("Content-Length"))
	}
	h.wantOrigin(1)
}

func TestHeadMissFillsCacheForGet(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "payload")
	})
	h.do(http.MethodHead, "/hm").expect(t, 200, "", "hoard; fwd=uri-miss")
	h.get("/hm").expect(t, 200, "payload", "hoard; hit")
	h.wantOrigin(1)
}

func TestClientConditionalAnsweredFromCache(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Last-Modified", "Mon, 23 Nov 2026 10:00:00 GMT")
		w.Header().Set("X-Other", "1")
		fmt.Fprint(w, "content")
	})
	h.get("/c")
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"weak If-None-Match matches strong ETag", []string{"If-None-Match", `W/"abc"`}, 304},
		{"If-None-Match list", []string{"If-None-Match", `"x", "abc"`}, 304},
		{"If-None-Match star", []string{"If-None-Match", `*`}, 304},
		{"If-None-Match other", []string{"If-None-Match", `"zzz"`}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"zzz"`, "If-Modified-Since", "Tue, 24 Nov 2026 10:00:00 GMT"}, 200},
		{"If-Modified-Since later", []string{"If-Modified-Since", "Tue, 24 Nov 2026 10:00:00 GMT"}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", "Sun, 22 Nov 2026 10:00:00 GMT"}, 200},
	} {
		r := h.get("/c", tc.header...)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
		}
		if tc.status == 304 {
			if r.header.Get("ETag") != `"abc"` || r.header.Get("X-Other") != "" || r.body != "" {
				t.Errorf("%s: 304 fields %v body %q; want ETag, no X-Other, no body", tc.name, r.header, r.body)
			}
		}
	}
	h.wantOrigin(1)
}

func TestClientConditionalOnMissGetsFullResponseStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			t.Errorf("client's If-None-Match reached the origin on a miss")
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"abc"`)
		fmt.Fprint(w, "content")
	})
	h.get("/m", "If-None-Match", `"abc"`).expect(t, 304, "", "hoard; fwd=uri-miss; fwd-status=200")
	h.get("/m").expect(t, 200, "content", "hoard; hit")
}

func TestAuthorizationRequiresPermission(t *testing.T) {
	for _, tc := range []struct{ cc, want string }{
		{"max-age=60", "hoard; fwd=uri-miss; fwd-status=200; detail=authorization"},
		{"max-age=60, public", "hoard; hit"},
		{"s-maxage=60", "hoard; hit"},
		{"max-age=60, must-revalidate", "hoard; hit"},
	} {
		h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", tc.cc)
			fmt.Fprint(w, "x")
		})
		h.get("/auth", "Authorization", "Basic Zm9vOmJhcg==")
		r := h.get("/auth", "Authorization", "Basic Zm9vOmJhcg==")
		if !strings.HasPrefix(r.header.Get("Cache-Status"), strings.SplitN(tc.want, "; ", 3)[0]+"; "+strings.SplitN(tc.want, "; ", 3)[1]) {
			t.Errorf("Cache-Control %q: second Cache-Status %q, want like %q", tc.cc, r.header.Get("Cache-Status"), tc.want)
		}
	}
}

func TestOnlyIfCached(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	h.get("/o", "Cache-Control", "only-if-cached").expect(t, 504,
		"Nothing usable is stored, and the request accepts only a stored response (only-if-cached).\n",
		"hoard; fwd=uri-miss; detail=only-if-cached")
	h.wantOrigin(0)
	h.get("/o")
	h.get("/o", "Cache-Control", "only-if-cached").expect(t, 200, "x", "hoard; hit")
	h.wantOrigin(1)
}

func TestRequestDirectives(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		fmt.Fprint(w, "x")
	})
	h.get("/r")
	h.clock.Advance(50 * time.Second)
	h.get("/r", "Cache-Control", "max-age=10").expect(t, 200, "x", "hoard; fwd=request; fwd-status=200")
	h.clock.Advance(50 * time.Second)
	h.get("/r", "Cache-Control", "min-fresh=60").expect(t, 200, "x", "hoard; fwd=request")
	h.clock.Advance(110 * time.Second) // stale by 10s
	h.get("/r", "Cache-Control", "max-stale=20").expect(t, 200, "x", "hoard; hit; ttl=-10; detail=max-stale")
	h.get("/r", "Cache-Control", "max-stale=5").expect(t, 200, "x", "hoard; fwd=stale")
	h.get("/r", "Cache-Control", "no-cache").expect(t, 200, "x", "hoard; fwd=request")
	h.wantOrigin(5)
}

func TestMustRevalidateOriginDownIs504(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
		fmt.Fprint(w, "fresh once")
	})
	h.get("/mr")
	h.clock.Advance(20 * time.Second)
	h.origin.srv.Close()
	r := h.get("/mr")
	r.expect(t, 504, "", "hoard; fwd=stale; detail=origin-unreachable")
	if strings.Contains(r.body, "fresh once") {
		t.Errorf("stale content served: %q", r.body)
	}
}

func TestOriginDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: connections are refused
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {}, func(o *Options) {
		o.Origin.Host = addr
	})
	r := h.get("/down")
	r.expect(t, 502, "Hoard could not reach the origin server (origin-unreachable).\n", "hoard; fwd=uri-miss; detail=origin-unreachable")
}

func TestOriginTooSlow(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
	}, func(o *Options) { o.OriginTimeout = 100 * time.Millisecond })
	defer close(release)
	h.get("/slow").expect(t, 504, "The origin server did not answer in time (origin-timeout).\n", "hoard; fwd=uri-miss; detail=origin-timeout")
}

func TestHopByHopFieldsRemoved(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		for _, f := range []string{"Connection", "Keep-Alive", "X-Named", "Te", "Upgrade", "Proxy-Authorization"} {
			if r.Header.Get(f) != "" {
				t.Errorf("origin received hop-by-hop field %s", f)
			}
		}
		if r.Header.Get("X-Forwarded-For") != "127.0.0.1" || r.Header.Get("Via") != "1.1 hoard" {
			t.Errorf("X-Forwarded-For %q, Via %q", r.Header.Get("X-Forwarded-For"), r.Header.Get("Via"))
		}
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "1")
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "x")
	})
	for range 2 {
		r := h.get("/hop", "Connection", "X-Named", "X-Named", "1", "Keep-Alive", "timeout=5", "Proxy-Authorization", "x")
		if r.header.Get("X-Secret") != "" {
			t.Errorf("client received a field the origin's Connection named")
		}
	}
}

func TestQualifiedNoCacheFieldsStrippedOnHit(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `no-cache="X-A", max-age=60`)
		w.Header().Set("X-A", "1")
		w.Header().Set("X-B", "2")
		fmt.Fprint(w, "x")
	})
	h.get("/q")
	r := h.get("/q")
	r.expect(t, 200, "x", "hoard; hit")
	if r.header.Get("X-A") != "" || r.header.Get("X-B") != "2" {
		t.Errorf("hit fields X-A=%q X-B=%q, want X-A removed, X-B=2", r.header.Get("X-A"), r.header.Get("X-B"))
	}
}

// TestLargeBodyStreams checks that the client receives the first bytes of a
// large response before the origin has sent the rest, and that the whole
// body is stored.
func TestLargeBodyStreams(t *testing.T) {
	firstSeen := make(chan struct{})
	const size = 8 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(chunk)
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
		case <-time.After(10 * time.Second):
			t.Error("client did not see the first bytes while the origin held the rest back")
		}
		for written := len(chunk); written < size; written += len(chunk) {
			w.Write(chunk)
		}
	})
	resp, err := h.front.Client().Get(h.front.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		t.Fatal(err)
	}
	close(firstSeen)
	n, err := io.Copy(io.Discard, br)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
	r := h.get("/big")
	r.expect(t, 200, "", "hoard; hit")
	if len(r.body) != size || !strings.HasPrefix(r.body, string(chunk)) {
		t.Errorf("stored body has %d bytes, want %d", len(r.body), size)
	}
	h.wantOrigin(1)
}

// TestTruncatedOriginBodyNeverStored: an origin that dies mid-body gives the
// client a cut connection and leaves nothing stored.
func TestTruncatedOriginBodyNeverStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("only part"))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	resp, err := h.front.Client().Get(h.front.URL + "/cut")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("client read a complete-looking body from a truncated origin response")
	}
	resp, err = h.front.Client().Get(h.front.URL + "/cut")
	if err == nil {
		if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "hit") {
			t.Errorf("truncated response was stored: %q", cs)
		}
		resp.Body.Close()
	}
	h.wantOrigin(2)
}

// TestClientHangupStillStoresWhole: a client that leaves mid-body does not
// truncate the stored entry.
func TestClientHangupStillStoresWhole(t *testing.T) {
	const size = 2 << 20
	release := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(bytes.Repeat([]byte("a"), 1024))
		w.(http.Flusher).Flush()
		<-release
		w.Write(bytes.Repeat([]byte("a"), size-1024))
	})
	conn, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	close(release)
	// The fill continues in the background; wait for it through the store.
	deadline := time.Now().Add(5 * time.Second)
	for h.store.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/hang", nil)
	req.Host = "x"
	resp, err := h.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "hoard; hit") || len(b) != size {
		t.Errorf("after hang-up: Cache-Status %q, %d bytes; want a hit of %d bytes", resp.Header.Get("Cache-Status"), len(b), size)
	}
}

// TestHitContentLength: a hit sends the stored body's length, whether the
// origin sent one (kept as it was) or streamed the body without one (too
// long for a server to add the field on its own).
func TestHitContentLength(t *testing.T) {
	long := strings.Repeat("0123456789", 1000)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/chunked" {
			io.WriteString(w, long[:5000])
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, long[5000:])
			return
		}
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "0123456789")
	})
	for _, path := range []string{"/sized", "/chunked"} {
		want := map[string]string{"/sized": "0123456789", "/chunked": long}[path]
		h.get(path)
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := h.do(method, path)
			r.expect(t, 200, "", "hoard; hit")
			if got := r.header.Values("Content-Length"); len(got) != 1 || got[0] != strconv.Itoa(len(want)) {
				t.Errorf("%s %s: Content-Length %q, want %d", method, path, got, len(want))
			}
			if method == http.MethodGet && r.body != want {
				t.Errorf("GET %s: body %q, want %q", path, r.body, want)
			}
		}
	}
}
