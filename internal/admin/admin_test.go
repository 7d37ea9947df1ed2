package admin

import (
	"context"
	"errors"
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

// readiness is a Readier that answers err.
type readiness struct{ err error }

func (r readiness) Ready(context.Context) error { return r.err }

func TestReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ready  Readier
		status int
		want   string
	}{
		{"nothing to check", nil, 200, `{"status":"ready"}`},
		{"the store answers", readiness{}, 200, `{"status":"ready"}`},
		{"the store does not", readiness{errors.New("redis store: unreachable: connection refused")}, 503,
			`{"reason":"redis store: unreachable: connection refused","status":"not ready"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(New(Options{Engine: &recorder{}, Ready: tt.ready}))
			t.Cleanup(srv.Close)
			resp, err := http.Get(srv.URL + "/_hoard/ready")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || strings.TrimSpace(string(b)) != tt.want {
				t.Errorf("GET /_hoard/ready = %d %s, want %d %s", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
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
