package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestOpenConnsCounts checks that OpenConns follows the connections of
// both ways to the origin: the pool's (a GET) and the Transport's (a POST),
// and drops to zero once they are closed.
func TestOpenConnsCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := New(Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.OpenConns(); n != 0 {
		t.Fatalf("OpenConns() = %d before any request, want 0", n)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+"/", strings.NewReader(""))
		if method == http.MethodPost {
			req.Body = io.NopCloser(strings.NewReader("x"))
			req.ContentLength = 1
		}
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := c.OpenConns(); n != 2 {
		t.Errorf("OpenConns() = %d after a GET and a POST, want 2 (one idle in each pool)", n)
	}
	c.Close()
	if n := c.OpenConns(); n != 0 {
		t.Errorf("OpenConns() = %d after Close, want 0", n)
	}
}
