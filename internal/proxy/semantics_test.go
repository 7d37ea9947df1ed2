package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/memory"
)

// Over real HTTP, the storing and reuse rules where a response or a request
// says the same thing twice, or says something at the edge of its syntax.

// A repeated private or no-cache restricts: an unqualified one anywhere
// covers the whole response (RFC 9111 §4.2.1, §5.2.2.4, §5.2.2.7), so
// another user's fields are never served from the shared cache.
func TestRepeatedRestrictionsCoverTheResponse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string // start of the second answer's Cache-Status
	}{
		{"private after a qualified private", []string{`max-age=300, private="X-A", private`}, "hoard; fwd=uri-miss"},
		{"private on a second line", []string{`max-age=300, private="X-A"`, "private"}, "hoard; fwd=uri-miss"},
		{"no-cache after a qualified no-cache", []string{`max-age=300, no-cache="Set-Cookie", no-cache`}, "hoard; fwd=stale"},
		{"no-cache on a second line", []string{`max-age=300, no-cache="Set-Cookie"`, "no-cache"}, "hoard; fwd=stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				for _, l := range tc.lines {
					w.Header().Add("Cache-Control", l)
				}
				w.Header().Set("ETag", `"v"`)
				w.Header().Set("X-User", "alice")
				w.Write([]byte("alice's page"))
			})
			h.get("/me").expect(t, 200, "alice's page", "hoard; fwd=uri-miss")
			h.get("/me").expect(t, 200, "alice's page", tc.want)
			h.wantOrigin(2)
		})
	}
}

// "Expires: Fri, 31 Dec 9999 23:59:59 GMT", a common way of saying "never
// expires", is stored and reused, not overflowed into the past.
func TestFarOffExpiresIsReused(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Expires", "Fri, 31 Dec 9999 23:59:59 GMT")
		w.Write([]byte("forever"))
	})
	h.get("/f").expect(t, 200, "forever", "hoard; fwd=uri-miss")
	h.get("/f").expect(t, 200, "forever", "hoard; hit")
	h.wantOrigin(1)
}

// A request's no-store or Authorization keeps the 304 it caused from being
// stored, but does not remove what was stored (RFC 9111 §5.2.1.5): no client
// evicts an entry by asking.
func TestRequestRefusalsLeaveTheStoredResponse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no-store", []string{"Cache-Control", "no-cache, no-store"}},
		{"authorization", []string{"Cache-Control", "no-cache", "Authorization", "Bearer x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=300")
				w.Header().Set("ETag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Write([]byte("v1"))
			})
			h.get("/p").expect(t, 200, "v1", "hoard; fwd=uri-miss")
			h.get("/p", tc.header...).expect(t, 200, "v1", "hoard; fwd=request; fwd-status=304")
			h.get("/p").expect(t, 200, "v1", "hoard; hit")
			h.wantOrigin(2)
		})
	}
}

// A client's conditions, taken off a miss, are answered on a response
// Hoard does not store as its origin would have answered them (RFC 9110
// §13.2.2): by its ETag and its Last-Modified, never by its Date, which
// only stands in for a stored response's Last-Modified (RFC 9111 §4.3.2).
func TestConditionsOnAnUnstoredResponse(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/etag":
			w.Header().Set("ETag", `"v1"`)
		case "/lm":
			w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		}
		w.Write([]byte("fresh every time"))
	})
	later := h.clock.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	h.get("/date", "If-Modified-Since", later).expect(t, 200, "fresh every time", "hoard; fwd=uri-miss")
	h.get("/etag", "If-None-Match", `"v1"`).expect(t, 304, "", "hoard; fwd=uri-miss")
	h.get("/etag", "If-None-Match", `"v0"`).expect(t, 200, "fresh every time", "hoard; fwd=uri-miss")
	h.get("/lm", "If-Modified-Since", later).expect(t, 304, "", "hoard; fwd=uri-miss")
}

// A response on its way into the store is not stored yet: a chunked body
// that turns out larger than the store takes is dropped after the header
// has gone. So a fetched response answers the client's conditions as its
// origin would, never by the Date that stands in for a stored response's
// missing Last-Modified.
func TestConditionsOnAResponseTooLargeToKeep(t *testing.T) {
	body := strings.Repeat("x", 8000)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(body[:4000]))
		w.(http.Flusher).Flush() // chunked: the length is not known up front
		w.Write([]byte(body[4000:]))
	}, func(o *Options) {
		o.MaxObjectSize = 5000
		o.Store, _ = memory.New(memory.Options{MaxBytes: 64 << 20, MaxObjectSize: 5000})
	})
	later := h.clock.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	h.get("/c", "If-Modified-Since", later).expect(t, 200, body, "hoard; fwd=uri-miss")
	h.get("/c").expect(t, 200, body, "hoard; fwd=uri-miss")
}

// A stale stored response without validators is fetched again without
// conditions; a 304 to that fetch answers nothing and refreshes nothing.
func TestUnconditional304DoesNotRefresh(t *testing.T) {
	n := 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Cache-Control", "max-age=1")
		if n > 1 {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("v1"))
	})
	h.get("/u").expect(t, 200, "v1", "hoard; fwd=uri-miss")
	h.clock.Advance(2 * time.Second)
	h.get("/u").expect(t, 502, "", "hoard; fwd=stale; detail=origin-invalid-response")
}

// only-if-cached with a precondition that only the origin answers: 504
// without contacting it (RFC 9111 §5.2.1.7).
func TestOnlyIfCachedWithIfMatch(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("x"))
	})
	r := h.get("/o", "Cache-Control", "only-if-cached", "If-Match", `"o"`)
	if r.status != http.StatusGatewayTimeout {
		t.Errorf("status = %d, want 504", r.status)
	}
	h.wantOrigin(0)
}

// stale-while-revalidate lets the cache answer with a stale response, but
// not a client that asks for a fresh one with max-age or min-fresh (RFC 9111
// §5.2.1.1, §5.2.1.3): that client waits for the validation.
func TestStaleWhileRevalidateYieldsToRequestMaxAge(t *testing.T) {
	for _, cc := range []string{"max-age=0", "min-fresh=10"} {
		t.Run(cc, func(t *testing.T) {
			version := "v1"
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
				w.Write([]byte(version))
			})
			h.get("/s").expect(t, 200, "v1", "hoard; fwd=uri-miss")
			h.clock.Advance(2 * time.Second)
			version = "v2"
			r := h.get("/s", "Cache-Control", cc)
			r.expect(t, 200, "v2", "hoard; fwd=")
			if cs := r.header.Get("Cache-Status"); strings.Contains(cs, "hit") {
				t.Errorf("Cache-Status = %q: served stale", cs)
			}
			h.wantOrigin(2)
		})
	}
}

// An origin that compresses on the fly answers a validation of "x" with a
// 304 carrying W/"x": weak comparison matches them (RFC 9111 §4.3.4, RFC
// 9110 §8.8.3.2), so the stored response is refreshed, not fetched again.
func TestWeakened304RefreshesStrongEntry(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		if r.Header.Get("If-None-Match") == `"x"` {
			w.Header().Set("ETag", `W/"x"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"x"`)
		w.Write([]byte("body"))
	})
	h.get("/w").expect(t, 200, "body", "hoard; fwd=uri-miss")
	h.clock.Advance(2 * time.Second)
	h.get("/w").expect(t, 200, "body", "hoard; fwd=stale; fwd-status=304")
	h.wantOrigin(2)
	h.get("/w").expect(t, 200, "body", "hoard; hit")
	h.wantOrigin(2)
}

// A field the client's Connection field nominates is not forwarded (RFC
// 9110 §7.6.1), so it does not select the variant the origin's answer is
// stored as either: a client cannot store the answer to a request without
// Accept-Language as the French variant.
func TestConnectionNominatedFieldSelectsNoVariant(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Vary", "Accept-Language")
		if r.Header.Get("Accept-Language") == "fr" {
			w.Write([]byte("bonjour"))
			return
		}
		w.Write([]byte("hello"))
	})
	h.get("/v", "Accept-Language", "fr", "Connection", "Accept-Language").expect(t, 200, "hello", "hoard; fwd=uri-miss")
	h.get("/v", "Accept-Language", "fr").expect(t, 200, "bonjour", "hoard; fwd=vary-miss")
	h.get("/v", "Accept-Language", "fr").expect(t, 200, "bonjour", "hoard; hit")
	h.get("/v").expect(t, 200, "hello", "hoard; hit")
}

// A 304 to a request Hoard sent without conditions (it takes the client's
// off to fetch the whole response) answers nothing: the client gets a 502,
// not a 304 that would tell it its own copy is current.
func TestUnconditional304IsInvalid(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	})
	h.get("/c", "If-None-Match", `"client"`).expect(t, 502, "The origin server's answer was not valid HTTP (origin-invalid-response).\n",
		"hoard; fwd=uri-miss; detail=origin-invalid-response")
}

// Request targets net/http accepts but HTTP does not get a 400, and CONNECT,
// which a reverse proxy supports for no resource, a 501; none reaches the
// origin.
func TestBadRequestTargets(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("page"))
	})
	addr := strings.TrimPrefix(h.front.URL, "http://")
	for _, tc := range []struct {
		line string
		want int
		body string // Hoard's one sentence, with the Cache-Status detail
	}{
		// RFC 9112 §3.2.4: OPTIONS only
		{"GET * HTTP/1.1", 400, "The request target * is for OPTIONS only (bad-request).\n"},
		// RFC 9110 §4.2.1: no host
		{"GET http:/no-host HTTP/1.1", 400, "An absolute request target needs a host (bad-request).\n"},
		{"GET http:opaque HTTP/1.1", 400, "The request target is not a valid one (bad-request).\n"},
		// RFC 9112 §3.2: no fragment
		{"GET /page?q#frag HTTP/1.1", 400, "The request target is not a valid one (bad-request).\n"},
		{"CONNECT example.com:443 HTTP/1.1", 501, "Hoard is a reverse proxy and opens no CONNECT tunnels (bad-request).\n"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s\r\nHost: %s\r\nConnection: close\r\n\r\n", tc.line, addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != tc.want || string(body) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.line, resp.StatusCode, body, tc.want, tc.body)
		}
	}
	h.wantOrigin(0)
}

// OPTIONS and TRACE with Max-Forwards (RFC 9110 §7.6.2): at 0 Hoard answers
// them itself, as their final recipient; above 0 it forwards them with the
// value less one.
func TestMaxForwards(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Max-Forwards", r.Header.Get("Max-Forwards"))
	})
	r := h.do(http.MethodOptions, "/m", "Max-Forwards", "0")
	if r.status != 200 || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("OPTIONS, Max-Forwards 0: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	r = h.do(http.MethodTrace, "/m", "Max-Forwards", "0", "X-Probe", "p1", "Cookie", "secret=1")
	if r.status != 200 || r.header.Get("Content-Type") != "message/http" ||
		!strings.HasPrefix(r.body, "TRACE /m HTTP/1.1\r\n") || !strings.Contains(r.body, "X-Probe: p1\r\n") {
		t.Errorf("TRACE, Max-Forwards 0: %d %q\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if strings.Contains(r.body, "secret") {
		t.Errorf("TRACE echoed the Cookie field:\n%s", r.body)
	}
	h.wantOrigin(0)
	for _, method := range []string{http.MethodOptions, http.MethodTrace} {
		if r = h.do(method, "/m", "Max-Forwards", "5"); r.header.Get("X-Seen-Max-Forwards") != "4" {
			t.Errorf("%s, Max-Forwards 5: the origin saw %q, want 4", method, r.header.Get("X-Seen-Max-Forwards"))
		}
	}
	h.wantOrigin(2)
}

// The origin's answer to a request with If-Match (a 412, sent with the
// site's Cache-Control) is not stored: later clients without the condition
// get the resource itself.
func TestIfMatchAnswerIsNotStored(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300") // site-wide header
		w.Header().Set("ETag", `"v1"`)
		if im := r.Header.Get("If-Match"); im != "" && im != `"v1"` && im != "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		w.Write([]byte("the page"))
	})
	r := h.get("/p", "If-Match", `"bogus"`)
	t.Logf("attacker: %d %q", r.status, r.header.Get("Cache-Status"))
	h.get("/p").expect(t, 200, "the page", "")
}

// The origin's answer to a request with If-Unmodified-Since (the 412 of
// http.ServeContent, sent with the site's Cache-Control) is not stored:
// later clients without the condition get the resource itself.
func TestIfUnmodifiedSinceAnswerIsNotStored(t *testing.T) {
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300") // middleware
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "a.txt", mod, strings.NewReader("the file"))
	})
	r := h.get("/f", "If-Unmodified-Since", "Sun, 01 Jan 2023 00:00:00 GMT")
	t.Logf("attacker: %d %q", r.status, r.header.Get("Cache-Status"))
	h.get("/f").expect(t, 200, "the file", "")
}
