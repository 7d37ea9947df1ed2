package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/internal/proxy"
)

// recorder is an engine that records purges.
type recorder struct{ got []proxy.Purge }

func (r *recorder) Purge(_ context.Context, p proxy.Purge) (int, error) {
	r.got = append(r.got, p)
	for _, u := range p.URLs {
		if !strings.HasPrefix(u, "http") {
			return 0, fmt.Errorf("%w: %q", proxy.ErrBadPurge, u)
		}
	}
	return len(p.URLs) + len(p.Prefixes) + len(p.Tags), nil
}

func TestAdminAPI(t *testing.T) {
	engine := &recorder{}
	srv := httptest.NewServer(New(Options{Engine: engine}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/_hoard/purge", `{"urls":["http://a/x"],"tags":["t1","t2"]}`, 200, `{"purged":3}`},
		{"POST", "/_hoard/purge", `{"urls":["/x"]}`, 400, `bad purge request`},
		{"POST", "/_hoard/purge", `{"url":"http://a/x"}`, 400, `unknown field`},
		{"POST", "/_hoard/purge", `{}`, 400, `nothing to purge`},
		{"POST", "/_hoard/purge", `not json`, 400, `JSON object`},
		{"GET", "/_hoard/purge", ``, 405, ``},
		{"GET", "/_hoard/health", ``, 200, `"ok"`},
		{"GET", "/debug/pprof/", ``, 200, `goroutine`},
		{"GET", "/debug/pprof/heap?debug=1", ``, 200, `heap profile`},
		{"GET", "/debug/pprof/profile?seconds=1", ``, 200, ``},
		{"POST", "/debug/pprof/heap", ``, 405, ``},
		{"POST", "/debug/pprof/symbol", `0x1`, 200, `num_symbols`},
		{"GET", "/debug/pprof/cmdline", ``, 404, ``}, // may hold a Redis password
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s %s: %d %q, want %d containing %q", tc.method, tc.path, tc.body, resp.StatusCode, b, tc.status, tc.want)
		}
	}
	if len(engine.got) != 2 || engine.got[0].Tags[1] != "t2" {
		t.Errorf("engine saw %+v", engine.got)
	}
}
