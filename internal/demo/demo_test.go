package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// get sends one request to srv and returns the response with its body read.
func get(t *testing.T, srv *httptest.Server, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(body)
}

func newServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestPaths(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name         string
		method, path string
		header       http.Header
		status       int
		cacheControl string
		vary         string
		etag         string // "" means any or none
		body         string // part of the body
	}{
		{"index lists every path", "GET", "/", nil, 200, "max-age=5", "", "", "/cached"},
		{"cached is fresh for a minute", "GET", "/cached", nil, 200, "max-age=60", "", `"cached-`, "cached response #"},
		{"no-store is never stored", "GET", "/no-store", nil, 200, "no-store", "", "", "no-store response #"},
		{"private is not for shared caches", "GET", "/private", nil, 200, "private, max-age=60", "", "", "private response #"},
		{"etag must be revalidated", "GET", "/etag", nil, 200, "no-cache", "", `"etag-v1"`, "never changes"},
		{"vary defaults to English", "GET", "/vary", nil, 200, "max-age=60", "Accept-Language", "", "Hello!"},
		{"large is fresh for five minutes", "GET", "/large", nil, 200, "max-age=300", "", `"large-v1"`, "line 0000001 of 65536"},
		{"HEAD is answered like GET", "HEAD", "/cached", nil, 200, "max-age=60", "", `"cached-`, ""},
		{"unknown path", "GET", "/nope", nil, 404, "", "", "", ""},
		{"other methods are refused", "POST", "/cached", nil, 405, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, srv, tt.method, tt.path, tt.header)
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("%s %s Cache-Control = %q, want %q", tt.method, tt.path, got, tt.cacheControl)
			}
			if got := resp.Header.Get("Vary"); got != tt.vary {
				t.Errorf("%s %s Vary = %q, want %q", tt.method, tt.path, got, tt.vary)
			}
			if got := resp.Header.Get("ETag"); !strings.HasPrefix(got, tt.etag) {
				t.Errorf("%s %s ETag = %q, want prefix %q", tt.method, tt.path, got, tt.etag)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("%s %s body = %.200q, want it to contain %q", tt.method, tt.path, body, tt.body)
			}
		})
	}
}

func TestIndexListsEveryPath(t *testing.T) {
	t.Parallel()
	_, body := get(t, newServer(t), "GET", "/", nil)
	for _, p := range paths {
		if !strings.Contains(body, p.path+" ") {
			t.Errorf("index does not list %s:\n%s", p.path, body)
		}
	}
}

// TestCachedChangesEachTime pins what makes a hit visible: the origin itself
// never repeats a response.
func TestCachedChangesEachTime(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	first, body1 := get(t, srv, "GET", "/cached", nil)
	second, body2 := get(t, srv, "GET", "/cached", nil)
	if body1 == body2 {
		t.Errorf("two requests for /cached got the same body %q", body1)
	}
	if !strings.Contains(body1, "#1,") || !strings.Contains(body2, "#2,") {
		t.Errorf("bodies %q and %q, want response #1 then #2", body1, body2)
	}
	if first.Header.Get("ETag") == second.Header.Get("ETag") {
		t.Errorf("two different bodies share ETag %s", first.Header.Get("ETag"))
	}
	lastModified, err := http.ParseTime(first.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", first.Header.Get("Last-Modified"), err)
	}
	if age := time.Since(lastModified); age < 0 || age > time.Minute {
		t.Errorf("Last-Modified %s is not about now", lastModified)
	}
}

func TestETagRevalidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"matching tag is not modified", `"etag-v1"`, 304},
		{"weak comparison (RFC 9110 §13.1.2)", `W/"etag-v1"`, 304},
		{"tag anywhere in a list", `"old", "etag-v1"`, 304},
		{"any tag", `*`, 304},
		{"other tag gets the body", `"etag-v0"`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, srv, "GET", "/etag", http.Header{"If-None-Match": {tt.ifNoneMatch}})
			if resp.StatusCode != tt.status {
				t.Fatalf("If-None-Match: %s: status %d, want %d", tt.ifNoneMatch, resp.StatusCode, tt.status)
			}
			if tt.status == 304 && (body != "" || resp.Header.Get("ETag") != `"etag-v1"`) {
				t.Errorf("304 with body %q and ETag %q, want no body and the ETag", body, resp.Header.Get("ETag"))
			}
		})
	}
}

func TestVaryLanguage(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name, acceptLanguage string
		greeting, language   string
	}{
		{"none is English", "", "Hello!", "en"},
		{"French", "fr", "Bonjour!", "fr"},
		{"region and weight are ignored", "de-CH;q=0.9", "Hallo!", "de"},
		{"first known language wins", "xx, es;q=0.5, fr", "Hola!", "es"},
		{"case does not matter", "JA-jp", "Konnichiwa!", "ja"},
		{"unknown falls back to English", "xx", "Hello!", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, srv, "GET", "/vary", http.Header{"Accept-Language": {tt.acceptLanguage}})
			if !strings.HasPrefix(body, tt.greeting) {
				t.Errorf("Accept-Language: %s: body %q, want it to start %q", tt.acceptLanguage, body, tt.greeting)
			}
			if got := resp.Header.Get("Content-Language"); got != tt.language {
				t.Errorf("Accept-Language: %s: Content-Language %q, want %q", tt.acceptLanguage, got, tt.language)
			}
		})
	}
}

func TestLargeIsDeterministic(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	resp, body1 := get(t, srv, "GET", "/large", nil)
	_, body2 := get(t, newServer(t), "GET", "/large", nil)
	if len(body1) != largeSize || resp.ContentLength != largeSize {
		t.Fatalf("/large body %d bytes, Content-Length %d, want %d", len(body1), resp.ContentLength, largeSize)
	}
	if body1 != body2 {
		t.Fatal("/large differs between two origins")
	}
	lines := strings.SplitAfter(body1, "\n")
	if last := lines[len(lines)-2]; !strings.HasPrefix(last, "hoard demo large body, line 0065536 of 65536...") || len(last) != 64 {
		t.Errorf("/large last line %q, want line 65536 of 64 bytes", last)
	}

	ranged, part := get(t, srv, "GET", "/large", http.Header{"Range": {"bytes=64-127"}})
	if ranged.StatusCode != http.StatusPartialContent || part != body1[64:128] {
		t.Errorf("/large bytes 64-127: status %d body %q, want 206 and the second line", ranged.StatusCode, part)
	}
}

func TestSlow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := Handler()
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
		}()
		<-done
		if waited := time.Since(start); waited != slowDelay {
			t.Errorf("/slow answered after %s, want %s", waited, slowDelay)
		}
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "max-age=30" || !bytes.Contains(rec.Body.Bytes(), []byte("slow response #1")) {
			t.Errorf("/slow = %d %q %q, want 200, max-age=30 and response #1", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
		}
	})
}

func TestSlowStopsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			Handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/slow", nil))
		}()
		time.Sleep(slowDelay / 2) // synctest's clock: the client leaves half-way through
		cancel()
		<-done
		if waited := time.Since(start); waited != slowDelay/2 {
			t.Errorf("/slow returned %s after the start, want %s (when the client left)", waited, slowDelay/2)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("/slow wrote %q to a client that left", rec.Body)
		}
	})
}
