package front

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeadAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		method     string
		url        url.URL
		host       string
		header     http.Header
		close      bool
	}{
		{
			name:   "plain GET",
			head:   "GET /a/b HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
			method: "GET", url: url.URL{Path: "/a/b"}, host: "example.com",
			header: http.Header{"Accept": {"*/*"}},
		},
		{
			name:   "HEAD with a query, names canonicalised, values trimmed",
			head:   "HEAD /x?a=1&b=%20 HTTP/1.1\r\nhost: h:8080\r\naccept-encoding:  gzip \t\r\nX-Two: 1\r\nx-two: 2\r\n\r\n",
			method: "HEAD", url: url.URL{Path: "/x", RawQuery: "a=1&b=%20"}, host: "h:8080",
			header: http.Header{"Accept-Encoding": {"gzip"}, "X-Two": {"1", "2"}},
		},
		{
			name:   "an empty query is kept",
			head:   "GET /x? HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "GET", url: url.URL{Path: "/x", ForceQuery: true}, host: "h",
			header: http.Header{},
		},
		{
			name:   "percent-encoding is decoded as net/http does",
			head:   "GET /a%20b/c%2Fd HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "GET", url: url.URL{Path: "/a b/c/d", RawPath: "/a%20b/c%2Fd"}, host: "h",
			header: http.Header{},
		},
		{
			name:   "Connection: close, among other options",
			head:   "GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: keep-alive, Close\r\n\r\n",
			method: "GET", url: url.URL{Path: "/"}, host: "[::1]:80",
			header: http.Header{"Connection": {"keep-alive, Close"}}, close: true,
		},
		{
			name:   "Pragma: no-cache means Cache-Control: no-cache, as net/http reads it",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
			method: "GET", url: url.URL{Path: "/"}, host: "h",
			header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}},
		},
		{
			name:   "not when there is a Cache-Control",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nCache-Control: max-age=5\r\n\r\n",
			method: "GET", url: url.URL{Path: "/"}, host: "h",
			header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"max-age=5"}},
		},
		{
			name:   "an empty body's length",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			method: "GET", url: url.URL{Path: "/"}, host: "h",
			header: http.Header{"Content-Length": {"0"}},
		},
		{
			name:   "an empty field value",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",
			method: "GET", url: url.URL{Path: "/"}, host: "h",
			header: http.Header{"X-Empty": {""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parseHead([]byte(tc.head), nil)
			if !ok {
				t.Fatalf("parseHead(%q) refused it", tc.head)
			}
			if h.method != tc.method || h.host != tc.host || h.close != tc.close || h.url != tc.url {
				t.Errorf("got method %q host %q close %v url %#v", h.method, h.host, h.close, h.url)
			}
			if !reflect.DeepEqual(h.header, tc.header) {
				t.Errorf("header %v, want %v", h.header, tc.header)
			}
			target := strings.Fields(tc.head)[1]
			if h.uri != target {
				t.Errorf("uri %q, want %q", h.uri, target)
			}
			// What net/http would have made of the same target.
			want, err := url.ParseRequestURI(target)
			if err != nil || *want != h.url {
				t.Errorf("url %#v; url.ParseRequestURI gives %#v, %v", h.url, want, err)
			}
		})
	}
}

// Every head that is not of the plainest kind is left to net/http.
func TestParseHeadLeavesToNetHTTP(t *testing.T) {
	for name, head := range map[string]string{
		"POST":                     "POST / HTTP/1.1\r\nHost: h\r\n\r\n",
		"lower-case method":        "get / HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS *":                "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"HTTP/1.0":                 "GET / HTTP/1.0\r\nHost: h\r\n\r\n",
		"HTTP/2 in a request line": "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
		"absolute form":            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"two spaces":               "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		"a fragment":               "GET /#x HTTP/1.1\r\nHost: h\r\n\r\n",
		"a control byte in target": "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
		"non-ASCII in target":      "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
		"bad percent-encoding":     "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		"no Host":                  "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
		"two Hosts":                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"an empty Host":            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"a Host with a slash":      "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"a Host with userinfo":     "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
		"Content-Length: 1":        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n",
		"two Content-Lengths":      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
		"Content-Length: 00":       "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n",
		"Transfer-Encoding":        "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"Expect":                   "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
		"Upgrade":                  "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		"HTTP2-Settings":           "GET / HTTP/1.1\r\nHost: h\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
		"obs-fold":                 "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n",
		"space before the colon":   "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
		"no colon":                 "GET / HTTP/1.1\r\nHost: h\r\nnonsense\r\n\r\n",
		"empty field name":         "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n",
		"a name with a slash":      "GET / HTTP/1.1\r\nHost: h\r\nX/Y: 1\r\n\r\n",
		"a NUL in a value":         "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
		"a bare CR in a value":     "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
		"DEL in a value":           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n",
		"not ended":                "GET / HTTP/1.1\r\nHost: h\r\n",
		"empty":                    "",
	} {
		if _, ok := parseHead([]byte(head), nil); ok {
			t.Errorf("%s: parseHead(%q) accepted it", name, head)
		}
	}
}

func TestBareLF(t *testing.T) {
	for in, want := range map[string]bool{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n": false,
		"GET / HTTP/1.1\nHost: h\r\n\r\n":   true,
		"GET / HTTP/1.1\r\nHost: h\n\n":     true,
		"\n":                                true,
		"no line end":                       false,
		"GET / HTTP/1.1\r\nHost: h\r\n\n":   true,
	} {
		var l lineScan
		if l.scan([]byte(in)); l.bareLF != want {
			t.Errorf("bareLF after scanning %q = %v, want %v", in, l.bareLF, want)
		}
	}
}

func FuzzParseHead(f *testing.F) {
	f.Add("GET /a?b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n")
	f.Add("HEAD /%41 HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseHead([]byte(s), nil)
		// A connection parses into the map of its last request: what
		// that held must not show through.
		dirty := http.Header{"X": {"y"}, "Host": {"stale"}, "Cache-Control": {"max-age=1"}}
		if again, reok := parseHead([]byte(s), dirty); reok != ok || ok && !reflect.DeepEqual(again, h) {
			t.Fatalf("%q: parsed into a used map as %+v, %v; into a new one as %+v, %v", s, again, reok, h, ok)
		}
		if !ok {
			return
		}
		// Whatever is accepted is what net/http would read the same way.
		req, err := http.ReadRequest(bufioReader(s))
		if err != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", s, err)
		}
		if req.Method != h.method || req.Host != h.host || *req.URL != h.url || req.Close != h.close ||
			!reflect.DeepEqual(req.Header, h.header) || req.RequestURI != h.uri {
			t.Fatalf("%q: parsed as %+v; net/http reads %s %s host %q close %v header %v",
				s, h, req.Method, req.URL, req.Host, req.Close, req.Header)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

// A response field's value never breaks the head: line breaks become
// spaces, and white space at either end goes, as net/http writes it.
func TestAppendField(t *testing.T) {
	for v, want := range map[string]string{
		"plain":              "K: plain\r\n",
		"":                   "K: \r\n",
		" padded\t":          "K: padded\r\n",
		"a\r\nSet-Cookie: x": "K: a  Set-Cookie: x\r\n",
		"a\nb\rc":            "K: a b c\r\n",
		"\r\nstarts broken":  "K: starts broken\r\n",
		"inner  spaces stay": "K: inner  spaces stay\r\n",
	} {
		if got := string(appendField(nil, "K", v)); got != want {
			t.Errorf("appendField(%q) = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkParseHead parses the head a browser sends for a cached image.
func BenchmarkParseHead(b *testing.B) {
	head := []byte("GET /static/img/logo.png?v=3 HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Connection: keep-alive\r\nReferer: https://www.example.com/\r\n" +
		"If-None-Match: \"5f3a-1c2b\"\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n")
	b.Run("front", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		var fields http.Header // reused, as a connection does
		for b.Loop() {
			h, ok := parseHead(head, fields)
			if !ok {
				b.Fatal("refused")
			}
			fields = h.header
		}
	})
	// What net/http's server does with the same bytes (http.ReadRequest on
	// a reused bufio.Reader), for comparison.
	b.Run("net-http", func(b *testing.B) {
		r := bytes.NewReader(head)
		br := bufio.NewReader(r)
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			r.Reset(head)
			br.Reset(r)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// lineScan finds the end of a head fed to it a few bytes at a time, with
// CRLF or LF line ends, wherever the reads split them, and not at a blank
// first line.
func TestLineScan(t *testing.T) {
	for head, end := range map[string]int{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\nbody": len("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		"GET / HTTP/1.1\nHost: h\n\nbody":       len("GET / HTTP/1.1\nHost: h\n\n"),
		"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n": len("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		"GET / HTTP/1.1\r\nHost: h\r\n":         -1,
		"GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n":  len("GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n"),
	} {
		for _, step := range []int{1, 2, 3, 7, len(head)} {
			var l lineScan
			got := -1
			for n := min(step, len(head)); ; n = min(n+step, len(head)) {
				if l.scan([]byte(head[:n])) {
					got = l.next
					break
				}
				if n == len(head) {
					break
				}
			}
			if got != end {
				t.Errorf("%q in steps of %d: end %d, want %d", head, step, got, end)
			}
		}
	}
}
