package node

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// script is what the scripted origin answers for one path.
type script struct {
	status int
	header http.Header
	body   []byte
}

// scriptedOrigin is the node's built-in origin: an http.RoundTripper that
// answers each path as origin_put scripted it, and counts what it receives.
// A request for an unscripted path gets 404. When upstream is set, requests
// go there instead and are only counted.
type scriptedOrigin struct {
	clock    *clock
	upstream http.RoundTripper

	mu      sync.Mutex
	scripts map[string]script // guarded by mu
	counts  map[string]int    // guarded by mu
}

func newScriptedOrigin(c *clock) *scriptedOrigin {
	return &scriptedOrigin{clock: c, scripts: map[string]script{}, counts: map[string]int{}}
}

func (o *scriptedOrigin) put(path string, s script) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.scripts[path] = s
}

func (o *scriptedOrigin) requests(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

// RoundTrip answers r from the script for its path. Like a real origin it
// stamps Date (from the node clock) and answers conditional requests with
// 304 when the scripted validators match (RFC 9110 §13.1).
func (o *scriptedOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body) // consume the request as a server would
		r.Body.Close()
	}
	o.mu.Lock()
	o.counts[r.URL.Path]++
	s, ok := o.scripts[r.URL.Path]
	upstream := o.upstream
	o.mu.Unlock()
	if upstream != nil {
		return upstream.RoundTrip(r)
	}
	rec := httptest.NewRecorder()
	if !ok {
		s = script{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/plain"}},
			body: []byte("no origin_put for " + r.URL.Path + "\n")}
	}
	h := rec.Header()
	for k, vs := range s.header {
		h[k] = append([]string(nil), vs...)
	}
	if h.Get("Date") == "" {
		h.Set("Date", httpcache.FormatDate(o.clock.Now()))
	}
	status := s.status
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && status == http.StatusOK &&
		httpcache.NotModified(r.Header, h) {
		for k := range h {
			if k != "Date" && k != "Etag" && k != "Cache-Control" && k != "Expires" && k != "Vary" &&
				k != "Last-Modified" && k != "Content-Location" {
				delete(h, k)
			}
		}
		status = http.StatusNotModified
	}
	body := s.body
	if status == http.StatusNotModified || r.Method == http.MethodHead {
		body = nil
	} else {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	resp := &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
	return resp, nil
}
