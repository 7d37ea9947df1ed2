package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/explain"
)

// explainOrigin is an origin with one path for each case hoard explain
// is asked about.
// It counts the requests for each path in hits.
func explainOrigin(t *testing.T, hits *sync.Map) *httptest.Server {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		h := w.Header()
		switch r.URL.Path {
		case "/cached":
			h.Set("Cache-Control", "max-age=60")
			h.Set("ETag", `"v1"`)
			h.Set("Surrogate-Key", "news front")
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/heuristic":
			h.Set("Last-Modified", time.Now().Add(-100*time.Hour).UTC().Format(http.TimeFormat))
		case "/swr":
			// Stored already stale: the origin says it is 100s old.
			h.Set("Cache-Control", "max-age=60, stale-while-revalidate=300")
			h.Set("Age", "100")
		case "/vary":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "Accept-Language")
		case "/large":
			h.Set("Cache-Control", "max-age=60")
			io.WriteString(w, strings.Repeat("x", 4096))
			return
		}
		io.WriteString(w, "hello")
	}))
	t.Cleanup(origin.Close)
	return origin
}

// adminAddr waits for serve to log its admin API's address.
func (s *server) adminAddr(t *testing.T) string {
	t.Helper()
	select {
	case <-s.in.stderr.written(`msg="admin API listening" addr=`):
	case <-time.After(stopTimeout):
		t.Fatalf("hoard serve logged no admin address:\n%s", s.in.stderr.String())
	}
	m := regexp.MustCompile(`msg="admin API listening" addr=(\S+)`).FindStringSubmatch(s.in.stderr.String())
	return m[1]
}

// explainRun runs hoard explain with args and returns its exit status and
// standard output, failing the test on any standard error.
func explainRun(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	in := &invocation{args: append([]string{"explain"}, args...), env: env}
	code := in.run(t.Context())
	return code, in.stdout.String(), in.stderr.String()
}

func TestExplainEndToEnd(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	origin := explainOrigin(t, &hits)
	s := startServe(t, "--origin="+origin.URL, "--admin-listen=127.0.0.1:0", "--max-object-size=1KiB", "--stale-if-error=5m")
	admin := s.adminAddr(t)
	for _, path := range []string{"/cached", "/private", "/heuristic", "/swr", "/large"} {
		if status, _ := s.get(t, path); status != 200 {
			t.Fatalf("GET %s through hoard: %d", path, status)
		}
	}
	for _, lang := range []string{"fr", "en"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+s.addr+"/vary", nil)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	base := "http://" + s.addr

	tests := []struct {
		path string
		want []string // lines of the text, each whole
	}{
		{"/cached", []string{
			base + "/cached: 1 stored variant",
			"  status 200, 5 bytes",
			"  stored: a GET answered 200, nothing forbids storing it, and it states its lifetime (max-age) (RFC 9111 §3)",
			"  the next request is a hit, served from the store (RFC 9111 §4.2)",
			`  revalidates with If-None-Match: "v1" (its ETag) (RFC 9111 §4.3.1)`,
			`  purged by the tags news, front (Surrogate-Key, Cache-Tag): POST /_hoard/purge {"tags":["news","front"]}`,
		}},
		{"/private", []string{
			base + "/private: nothing stored; the origin's answer to a GET now (not stored by explain):",
			"  not stored: Cache-Control: private, which is for one user's own cache, never a shared one (RFC 9111 §5.2.2.7)",
			`  to cache it: if it is the same for every user, send Cache-Control: public, max-age=N instead; if only some fields are personal, name them: private="Set-Cookie"`,
		}},
		{"/heuristic", []string{
			"  stored: a GET answered 200, nothing forbids storing it, and status 200 may be given a heuristic lifetime (RFC 9111 §3, RFC 9110 §15.1)",
			"  the next request is a hit, served from the store (RFC 9111 §4.2)",
		}},
		{"/swr", []string{
			"  the next request is served stale, and revalidates it in the background (RFC 5861 §3)",
			"  stale-while-revalidate=300: for 5m after it goes stale, it is served while revalidated in the background; it is within it now (RFC 5861 §3)",
			"  no stale-if-error of its own; the --stale-if-error default 5m: served up to 5m stale when the origin fails or answers 500, 502, 503 or 504; it is within it now (RFC 5861 §4)",
		}},
		{"/vary", []string{
			base + "/vary: 2 stored variants",
			"variant 1 of 2:",
			"  varies on Accept-Language; selected by requests with Accept-Language: en (RFC 9111 §4.1)",
			"variant 2 of 2:",
			"  varies on Accept-Language; selected by requests with Accept-Language: fr (RFC 9111 §4.1)",
		}},
		{"/large", []string{
			"  status 200, size unknown", // sent chunked: read up to the limit only
			"  not stored: its body is larger than --max-object-size (1024 bytes)",
			"  to cache it: raise --max-object-size above the body's size, or make the body smaller",
		}},
	}
	for _, tt := range tests {
		code, stdout, stderr := explainRun(t, nil, "--admin", admin, base+tt.path)
		if code != 0 || stderr != "" {
			t.Fatalf("hoard explain %s: exit %d, stderr %q", tt.path, code, stderr)
		}
		lines := strings.Split(stdout, "\n")
		for _, want := range tt.want {
			if !contains(lines, want) {
				t.Errorf("hoard explain %s lacks the line\n%s\nin\n%s", tt.path, want, stdout)
			}
		}
		if !freshnessLine.MatchString(stdout) {
			t.Errorf("hoard explain %s has no freshness line:\n%s", tt.path, stdout)
		}
		t.Logf("hoard explain %s\n%s", tt.path, stdout)
	}

	// --json, with the admin address from the environment and the flag
	// after the URL.
	code, stdout, stderr := explainRun(t, map[string]string{"HOARD_ADMIN_LISTEN": admin}, base+"/swr", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("hoard explain --json: exit %d, stderr %q", code, stderr)
	}
	t.Logf("hoard explain --json /swr\n%s", stdout)
	var rep explain.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("hoard explain --json: %v\n%s", err, stdout)
	}
	if len(rep.Variants) != 1 || rep.Fetched {
		t.Fatalf("hoard explain --json /swr: %+v, want one stored variant", rep)
	}
	v := rep.Variants[0]
	if !v.Stored || v.Fresh || v.LifetimeRule != "max-age" || v.LifetimeSeconds != 60 || v.AgeSeconds < 100 ||
		v.StaleWhileRevalidateSeconds != 300 || v.StaleIfErrorSeconds != 300 {
		t.Errorf("hoard explain --json /swr variant %+v, want stored, stale, max-age 60, age ≥ 100, swr 300, stale-if-error 300", v)
	}

	// What was stored was explained from the store; what was not was
	// fetched once more, and the explanations stored nothing.
	for path, want := range map[string]int64{"/cached": 1, "/heuristic": 1, "/swr": 1, "/vary": 2, "/private": 2, "/large": 2} {
		n, _ := hits.Load(path)
		if got := n.(*atomic.Int64).Load(); got != want {
			t.Errorf("the origin had %d requests for %s, want %d", got, path, want)
		}
	}
	if _, stdout, _ := explainRun(t, nil, "--admin", admin, base+"/private"); !strings.Contains(stdout, "nothing stored") {
		t.Errorf("hoard explain /private after an explanation:\n%s\nwant nothing stored still", stdout)
	}
}

// freshnessLine is the shape of the line on freshness and age (RFC 9111
// §4.2), whose numbers depend on the clock.
var freshnessLine = regexp.MustCompile(`(?m)^  ((fresh for [0-9hms]+ more|stale for [0-9hms]+) \(.*\): .*, age [0-9hms]+ \(§4\.2\.3\)|would be fresh for [0-9hms]+: .*)$`)

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestExplainUsage(t *testing.T) {
	t.Parallel()
	// An address that refuses connections: bind a port, close it.
	ln := httptest.NewServer(http.NotFoundHandler())
	refused := strings.TrimPrefix(ln.URL, "http://")
	ln.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string // part of standard error
	}{
		{nil, 2, "give the URL to explain"},
		{[]string{"http://h/a", "http://h/b"}, 2, `unexpected argument "http://h/b"`},
		{[]string{"--admin", "nope", "http://h/a"}, 2, `--admin "nope": want host:port`},
		{[]string{"--header", "nocolon", "http://h/a"}, 2, "want Name: value"},
		{[]string{"--admin", refused, "http://h/a"}, 1, "cannot reach the admin API"},
	} {
		code, _, stderr := explainRun(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("hoard explain %q: exit %d, stderr %q; want %d containing %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

func TestExplainEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ admin, want string }{
		{"127.0.0.1:9080", "http://127.0.0.1:9080/_hoard/explain?header=Accept%3A+x&url=http%3A%2F%2Fh%2Fa"},
		{":9080", "http://127.0.0.1:9080/_hoard/explain?header=Accept%3A+x&url=http%3A%2F%2Fh%2Fa"},
		{"0.0.0.0:9080", "http://127.0.0.1:9080/_hoard/explain?header=Accept%3A+x&url=http%3A%2F%2Fh%2Fa"},
		{"[::1]:9080", "http://[::1]:9080/_hoard/explain?header=Accept%3A+x&url=http%3A%2F%2Fh%2Fa"},
		{"http://admin.internal:9080/", "http://admin.internal:9080/_hoard/explain?header=Accept%3A+x&url=http%3A%2F%2Fh%2Fa"},
	} {
		got, err := explainEndpoint(tc.admin, "http://h/a", []string{"Accept: x"})
		if err != nil || got != tc.want {
			t.Errorf("explainEndpoint(%q) = %q, %v; want %q", tc.admin, got, err, tc.want)
		}
	}
}
