package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/internal/explain"
	"github.com/hoard-cache/hoard/internal/proxy"
)

// explainer is an engine that explains by echoing what it was asked.
type explainer struct{ recorder }

func (explainer) Explain(_ context.Context, u string, h http.Header) (explain.Report, error) {
	switch {
	case !strings.HasPrefix(u, "http"):
		return explain.Report{}, fmt.Errorf("%w: %q", proxy.ErrBadExplain, u)
	case strings.Contains(u, "down"):
		return explain.Report{}, fmt.Errorf("fetch from the origin: connection refused")
	}
	return explain.Report{URL: u, Variants: []explain.Variant{{Key: u, Lines: []explain.Line{{Rule: "header", Text: h.Get("Accept-Language")}}}}}, nil
}

func TestExplainAPI(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{Engine: &explainer{}}))
	defer srv.Close()
	plain := httptest.NewServer(New(Options{Engine: &recorder{}}))
	defer plain.Close()
	for _, tc := range []struct {
		base, query string
		status      int
		want        string
	}{
		{srv.URL, "url=" + url.QueryEscape("http://h/x") + "&header=" + url.QueryEscape("accept-language: fr"), 200,
			`{"url":"http://h/x","key":"","at":"0001-01-01T00:00:00Z","fetched":false,"variants":[{"key":"http://h/x"`},
		{srv.URL, "url=" + url.QueryEscape("http://h/x") + "&header=" + url.QueryEscape("Accept-Language: fr"), 200, `"text":"fr"`},
		{srv.URL, "", 400, "give the URL to explain"},
		{srv.URL, "url=/x", 400, "bad explain request"},
		{srv.URL, "url=http://h/x&header=nocolon", 400, "want Name: value"},
		{srv.URL, "url=http://h/x&header=" + url.QueryEscape("Bad Name: v"), 400, "want Name: value"},
		{srv.URL, "url=http://down/x", 502, "connection refused"},
		{plain.URL, "url=http://h/x", 501, "cannot explain"},
	} {
		resp, err := http.Get(tc.base + "/_hoard/explain?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET /_hoard/explain?%s: %d %s, want %d containing %q", tc.query, resp.StatusCode, b, tc.status, tc.want)
		}
		if tc.status == 200 {
			var rep explain.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Errorf("GET /_hoard/explain?%s: %v", tc.query, err)
			}
		}
	}
}
