package front

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, head string
		want       verdict
	}{
		{"no body without framing fields (RFC 9112 §6.3)",
			"GET / HTTP/1.1\r\nHost: h\r\n\r\n", verdict{}},
		{"Content-Length frames the body",
			"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", verdict{length: 12}},
		{"a POST is remembered for the CRLF net/http skips after it",
			"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n", verdict{length: 3, post: true}},
		{"equal Content-Length fields are one",
			"PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:  5\r\n\r\n", verdict{length: 5}},
		{"chunked, in any case",
			"PUT / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", verdict{chunked: true}},
		{"bare LF line ends, as net/http reads them",
			"PUT / HTTP/1.1\nHost: h\nContent-Length: 7\n\n", verdict{length: 7}},
		{"Transfer-Encoding with Content-Length is refused (RFC 9112 §6.1)",
			"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
			verdict{refuse: "Transfer-Encoding with Content-Length (RFC 9112 section 6.1)"}},
		{"field names in any case",
			"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
			verdict{refuse: "Transfer-Encoding with Content-Length (RFC 9112 section 6.1)"}},
		{"an unknown coding with Content-Length is refused too",
			"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
			verdict{refuse: "Transfer-Encoding with Content-Length (RFC 9112 section 6.1)"}},
		{"Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1)",
			"POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			verdict{refuse: "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)"}},
		{"an unknown coding is net/http's to answer (501)",
			"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", verdict{opaque: true}},
		{"two Transfer-Encoding fields are net/http's to answer",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", verdict{opaque: true}},
		{"Content-Length fields that differ are net/http's to answer (400)",
			"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", verdict{opaque: true}},
		{"a Content-Length that is not a number",
			"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", verdict{opaque: true}},
		{"a signed Content-Length",
			"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", verdict{opaque: true}},
		{"an empty request line",
			"\r\nHost: h\r\n\r\n", verdict{opaque: true}},
		{"a malformed field line",
			"GET / HTTP/1.1\r\nHost h\r\n\r\n", verdict{opaque: true}},
		{"obs-fold is read as net/http reads it",
			"PUT / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\n", verdict{length: 2}},
		{"a folded Transfer-Encoding still counts",
			"PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
			verdict{refuse: "Transfer-Encoding with Content-Length (RFC 9112 section 6.1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := judge([]byte(tc.head)); got != tc.want {
				t.Errorf("judge(%q) = %+v, want %+v", tc.head, got, tc.want)
			}
		})
	}
}

func TestFramerBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		v      verdict
		stream string
		body   int  // bytes of stream in the body
		ok     bool // the body is well formed
	}{
		{"Content-Length", verdict{length: 3}, "abcGET", 3, true},
		{"one chunk", verdict{chunked: true}, "3\r\nabc\r\n0\r\n\r\nGET", 13, true},
		{"extensions and white space", verdict{chunked: true}, "3;x=y \r\nabc\r\n0\r\n\r\nGET", 18, true},
		{"white space before an extension is malformed, as net/http reads it", verdict{chunked: true}, "3 ;x\r\nabc\r\n", 6, false},
		{"hex sizes", verdict{chunked: true}, "A\r\n0123456789\r\n0\r\n\r\nX", 20, true},
		{"a trailer section (RFC 9112 §7.1.2)", verdict{chunked: true}, "0\r\nT: v\r\n\r\nX", 11, true},
		{"a trailer ended by a bare LF", verdict{chunked: true}, "0\r\nT: v\n\nX", 9, true},
		{"a body that looks like a request", verdict{chunked: true}, "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 5, true},
		{"a chunk-size line ended by a bare LF", verdict{chunked: true}, "3\nabc\r\n0\r\n\r\n", 2, false},
		{"a chunk-size line that is a bare LF", verdict{chunked: true}, "\n", 1, false},
		{"a CR inside a chunk-size line", verdict{chunked: true}, "3\r;\r\nabc\r\n", 5, false},
		{"no CRLF after a chunk's data", verdict{chunked: true}, "3\r\nabcX\r\n", 6, false},
		{"a size that is not hex", verdict{chunked: true}, "g\r\n", 3, false},
		{"an empty size", verdict{chunked: true}, ";x\r\n", 4, false},
		{"a size of 17 digits", verdict{chunked: true}, "00000000000000001\r\n", 19, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Whole, and cut at every byte: the framing must not depend on
			// how the bytes arrive.
			for _, step := range []int{len(tc.stream), 1} {
				var f framer
				f.begin(tc.v)
				n, ok := 0, true
				for n < len(tc.stream) && ok && f.state != inHead {
					var k int
					k, ok = f.body([]byte(tc.stream[n:min(len(tc.stream), n+step)]))
					n += k
				}
				if n != tc.body || ok != tc.ok {
					t.Errorf("body of %q (step %d) = %d bytes, ok %v; want %d, %v", tc.stream, step, n, ok, tc.body, tc.ok)
				}
			}
		})
	}
}

// recordingHandler records the path of every request that reaches it,
// after reading its body whole, as the proxy does before forwarding.
type recordingHandler struct {
	mu    sync.Mutex
	paths []string
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	h.mu.Lock()
	h.paths = append(h.paths, r.URL.Path)
	h.mu.Unlock()
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s, %d body bytes", r.Method, r.URL.Path, len(b))
}

func (h *recordingHandler) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.paths...)
}

// Every request of a connection is judged, whichever server parses it:
// Transfer-Encoding with Content-Length, or in HTTP/1.0, is answered 400
// and the connection closed, after a request with a body, a chunked one,
// a HEAD, an Expect: 100-continue, pipelined or not, and the bytes behind
// it never reach the handler as a request.
func TestSmugglingRefusedOnEveryRequest(t *testing.T) {
	t.Parallel()
	const smuggle = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
	teCL := fmt.Sprintf("POST /p2 HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(smuggle), smuggle)
	te10 := fmt.Sprintf("POST /p2 HTTP/1.0\r\nHost: h\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(smuggle), smuggle)
	te10NoCL := "POST /p2 HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggle
	type step struct {
		req    string
		method string
		status int // 0: the 400 and the end
	}
	firsts := map[string]step{
		"after a POST with a body":     {"POST /p1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "POST", 200},
		"after a chunked POST":         {"POST /p1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "POST", 200},
		"after a HEAD":                 {"HEAD /p1 HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD", 200},
		"after a GET":                  {"GET /p1 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", 200},
		"after Expect: 100-continue":   {"POST /p1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc", "POST", 200},
		"after an HTTP/1.0 keep-alive": {"POST /p1 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", "POST", 200},
		"first on the connection":      {},
	}
	for _, netOnly := range []bool{false, true} {
		for fname, first := range firsts {
			for bname, bad := range map[string]string{"TE and CL": teCL, "TE in HTTP/1.0": te10, "TE in HTTP/1.0 without CL": te10NoCL} {
				for _, pipelined := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/pipelined=%v/net-only=%v", fname, bname, pipelined, netOnly)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						h := &recordingHandler{}
						addr, _ := serveFrontWith(t, h, func(s *Server) { s.NetOnly = netOnly })
						c := dial(t, addr)
						steps := []step{{req: bad}}
						if first.req != "" {
							steps = []step{first, {req: bad}}
						}
						if pipelined {
							var all strings.Builder
							for _, s := range steps {
								all.WriteString(s.req)
							}
							c.send(all.String())
						}
						for _, s := range steps {
							if !pipelined {
								c.send(s.req)
							}
							if s.status != 0 {
								resp, body := c.read(s.method)
								for resp.StatusCode == http.StatusContinue {
									resp, body = c.read(s.method)
								}
								if resp.StatusCode != s.status {
									t.Fatalf("%q: %d %q, want %d", s.req, resp.StatusCode, body, s.status)
								}
								continue
							}
							resp, body := c.read("POST")
							if resp.StatusCode != http.StatusBadRequest || !resp.Close || !strings.Contains(body, "Transfer-Encoding") {
								t.Errorf("the smuggling request: %d, close %v, %q; want 400 naming Transfer-Encoding, and Connection: close", resp.StatusCode, resp.Close, body)
							}
						}
						if !c.closed(5 * time.Second) {
							t.Errorf("the connection stayed open after the 400")
						}
						for _, p := range h.seen() {
							if p != "/p1" {
								t.Errorf("the handler served %s", p)
							}
						}
					})
				}
			}
		}
	}
}

// The 400 for Transfer-Encoding with Content-Length is given whatever the
// head: one over the front end's 4 KiB buffer, or with bare LF line ends
// whose first line arrives on its own, is read to its end before the
// hand-off and refused too, so the request smuggled after it is never
// served.
func TestAmbiguousFramingRefusedWhateverTheHead(t *testing.T) {
	var smuggled atomic.Int64
	addr, _ := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/smuggled" {
			smuggled.Add(1)
		}
		io.WriteString(w, "served "+r.URL.Path)
	}))
	tail := "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
	for name, parts := range map[string][]string{
		"long head":      {"POST /a HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("a", 5000) + "\r\n" + tail},
		"bare LF, split": {"POST /a HTTP/1.1\n", "Host: h\n" + strings.ReplaceAll(tail[:strings.Index(tail, "0\r\n")], "\r\n", "\n") + tail[strings.Index(tail, "0\r\n"):]},
	} {
		before := smuggled.Load()
		c := dial(t, addr)
		for i, p := range parts {
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // the head arrives in pieces
			}
			c.send(p)
		}
		resp, body := c.read("POST")
		t.Logf("%s: %d %q", name, resp.StatusCode, body)
		if resp.StatusCode != http.StatusBadRequest {
			resp2, body2 := c.read("GET")
			t.Errorf("%s: TE+CL answered %d, not 400, and the connection served a second request: %d %q", name, resp.StatusCode, resp2.StatusCode, body2)
		}
		if smuggled.Load() != before {
			t.Errorf("%s: /smuggled was served", name)
		}
	}
}
