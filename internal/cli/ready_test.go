package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/internal/store/redistest"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getURL fetches url and returns its status, body and Cache-Status.
func getURL(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
}

// TestReadyWithRedisDown: /_hoard/ready answers 503 with the reason while
// the configured Redis is down, and Hoard goes on serving what its memory
// tier holds, and the origin.
func TestReadyWithRedisDown(t *testing.T) {
	t.Parallel()
	redis := redistest.StartServer(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "body of %s", r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	admin := freeAddr(t)
	s := startServe(t, "--origin", origin.URL, "--store", "redis://"+redis.Addr()+"/0", "--admin-listen", admin)

	if code, body, _ := getURL(t, "http://"+admin+"/_hoard/ready"); code != 200 || strings.TrimSpace(body) != `{"status":"ready"}` {
		t.Errorf("GET /_hoard/ready with Redis up = %d %s, want 200 ready", code, body)
	}
	s.get(t, "/cached")
	redis.Stop()

	code, body, _ := getURL(t, "http://"+admin+"/_hoard/ready")
	if code != 503 || !strings.Contains(body, `"status":"not ready"`) || !strings.Contains(body, `"reason":"redis store: unreachable: `) {
		t.Errorf("GET /_hoard/ready with Redis down = %d %s, want 503 not ready with the reason", code, body)
	}
	if code, body, _ := getURL(t, "http://"+admin+"/_hoard/health"); code != 200 {
		t.Errorf("GET /_hoard/health with Redis down = %d %s, want 200: the process is alive", code, body)
	}
	if code, body, cs := getURL(t, "http://"+s.addr+"/cached"); code != 200 || body != "body of /cached" || !strings.HasPrefix(cs, "hoard; hit") {
		t.Errorf("cached object with Redis down: %d %q (%s), want a hit from memory", code, body, cs)
	}
	if code, body, _ := getURL(t, "http://"+s.addr+"/new"); code != 200 || body != "body of /new" {
		t.Errorf("new object with Redis down: %d %q, want it from the origin", code, body)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestRedisRefusesConfiguration: a Redis that will never accept the
// configuration stops Hoard at start-up with exit status 2, before it
// listens, and the password never shows.
func TestRedisRefusesConfiguration(t *testing.T) {
	t.Parallel()
	redis := redistest.StartServer(t)
	if _, err := redis.Command("CONFIG", "SET", "requirepass", "hunter2"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, store, want string }{
		{"wrong password", "redis://:wrong-hunter@" + redis.Addr() + "/0",
			`hoard serve: --store "redis://:***@` + redis.Addr() + `/0": redis store: authentication failed: WRONGPASS invalid username-password pair or user is disabled.`},
		{"database out of range", "redis://:hunter2@" + redis.Addr() + "/99",
			`hoard serve: --store "redis://:***@` + redis.Addr() + `/99": redis store: refused: ERR DB index is out of range`},
		{"unknown host", "redis://:hunter2@no-such-host.invalid/0",
			`hoard serve: --store "redis://:***@no-such-host.invalid/0": redis store: unknown host no-such-host.invalid: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			in := &invocation{
				args: []string{"serve", "--origin", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--store", tt.store},
				ready: func(addr string) {
					t.Errorf("hoard listened on %s despite a Redis that refuses it", addr)
					cancel()
				},
			}
			if code := in.run(ctx); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			stderr := in.stderr.String()
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "hunter") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
}
