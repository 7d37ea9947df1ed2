package origin

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/origin/origintest"
)

// The hand-written origin of package origintest, under the names these
// tests use.
type rawOrigin = origintest.Raw

var (
	newRawOrigin = origintest.NewRaw
	readRequest  = origintest.ReadRequest
	answer       = origintest.Answer
)

// newClient is a Client for u, closed at the end of the test.
func newClient(t *testing.T, u *url.URL, opts ...func(*Options)) *Client {
	t.Helper()
	o := Options{URL: u}
	for _, f := range opts {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fetch sends method path to c and reads the answer whole: its status
// and body, or the error of the exchange or of the body.
func fetch(ctx context.Context, c *Client, method, path string, body io.Reader) (int, string, error) {
	u := *c.backends[0].opts.URL
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// get is fetch of a GET that must succeed with 200 and want as its body.
func get(t *testing.T, c *Client, path, want string) {
	t.Helper()
	status, body, err := fetch(t.Context(), c, http.MethodGet, path, nil)
	if err != nil || status != 200 || body != want {
		t.Fatalf("GET %s = %d %q, %v; want 200 %q", path, status, body, err, want)
	}
}

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}

// waiters is how many requests wait for a connection of c's pool to be put
// back.
func waiters(c *Client) int {
	p := c.backends[0].pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}
