package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of Debian's chromium, skipping the test when
// there is none, except in CI, which installs it (.ci/run): there a
// missing browser fails the test rather than hide it.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is needed for the dashboard's test in CI: %v", err)
		}
		t.Skipf("no chromium to load the dashboard in: %v", err)
	}
	return path
}

// TestDashboardInBrowser loads the admin dashboard in a headless chromium
// in front of a Hoard that has served a known mix, and checks the page
// shows it: 30 hits and 5 misses, their ratio, the top URL, a purge. The
// screenshot is kept in the test's directory; with DASHBOARD_SCREENSHOT
// set it is written there too (docs/dashboard.png is made so).
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "body of %s", r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	s := startServe(t, "--origin", origin.URL, "--admin-listen", "127.0.0.1:0")
	admin := adminAddr(t, s)

	// /hot: a miss, then 26 hits; four others a miss and a hit each. The
	// query of /b holds a secret the dashboard must not show. They go out
	// over about three seconds, so that the plots have more than a point.
	paths := []string{"/hot"}
	for range 26 {
		paths = append(paths, "/hot")
	}
	for _, p := range []string{"/b?token=s3cret", "/c", "/d", "/e"} {
		paths = append(paths, p, p)
	}
	pace := time.NewTicker(80 * time.Millisecond)
	defer pace.Stop()
	for _, p := range paths {
		s.get(t, p)
		<-pace.C
	}
	resp, err := http.Post("http://"+admin+"/_hoard/purge", "application/json",
		strings.NewReader(`{"urls":["http://`+s.addr+`/e"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.WindowSize(1280, 1000))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	// The first action starts the browser, whose life is that action's
	// context's: no timeout on it, only on what follows.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+admin+"/")); err != nil {
		t.Fatalf("loading the dashboard in chromium: %v", err)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The sampler gathers once a second and the page polls once a second:
	// wait for the numbers, the top URLs and the purge.
	if _, err := chromedp.Run(wait, chromedp.Poll[bool](`document.getElementById("hits").textContent === "30" &&
		document.querySelector("#purges td:nth-child(5)") !== null &&
		document.querySelectorAll("#top-requests tr").length >= 5`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("waiting for the dashboard to show 30 hits: %v", err)
	}
	shown, err := chromedp.Run(wait, chromedp.Evaluate[map[string]string](`(() => {
		const text = sel => { const e = document.querySelector(sel); return e ? e.textContent : "(none)"; };
		return {
			hits: text("#hits"), misses: text("#misses"), ratio: text("#hit-ratio"), requests: text("#requests"),
			topPath: text("#top-requests tr:first-child td:nth-child(1)"),
			topCount: text("#top-requests tr:first-child td:nth-child(2)"),
			topMiss: text("#top-misses tr:first-child td:nth-child(1)"),
			purged: text("#purges tr:first-child td:nth-child(5)"),
			store: text("#store-state"), page: document.body.innerText,
		};
	})()`))
	if err != nil {
		t.Fatalf("reading the dashboard: %v", err)
	}
	png, err := chromedp.Run(wait, chromedp.FullScreenshot(100)) // 100: a PNG
	if err != nil {
		t.Fatalf("screenshot of the dashboard: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if path := os.Getenv("DASHBOARD_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct{ what, got, want string }{
		{"hits", shown["hits"], "30"},
		{"misses", shown["misses"], "5"},
		{"requests", shown["requests"], "35"},
		{"hit ratio", shown["ratio"], "85.7%"},
		{"top URL by requests", shown["topPath"], "/hot"},
		{"its requests", shown["topCount"], "27"},
		{"removed by the purge", shown["purged"], "1"},
		{"store", shown["store"], "ready"},
	} {
		if c.got != c.want {
			t.Errorf("the page shows %s %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.HasPrefix(shown["topMiss"], "/") {
		t.Errorf("the page shows top missed URL %q, want a path", shown["topMiss"])
	}
	if page := shown["page"]; strings.Contains(page, "s3cret") || !strings.Contains(page, "/b") {
		t.Errorf("the page shows a query's secret, or not /b:\n%s", page)
	}
}

// TestStatsCountPathsOnly: the top URLs of /_hoard/stats hold a request's
// path, never its query, which may carry a secret. No browser needed.
func TestStatsCountPathsOnly(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(origin.Close)
	s := startServe(t, "--origin", origin.URL, "--admin-listen", "127.0.0.1:0")
	admin := adminAddr(t, s)
	s.get(t, "/private?token=s3cret")

	// The sampler gathers once a second: ask until it has.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		_, body, _ := getURL(t, "http://"+admin+"/_hoard/stats")
		if strings.Contains(body, `"requests":1,`) {
			if strings.Contains(body, "s3cret") || !strings.Contains(body, `"top_requests":[{"path":"/private","count":1,"error":0}]`) {
				t.Errorf("GET /_hoard/stats = %s, want /private counted once, and no query", body)
			}
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("GET /_hoard/stats never counted the request: %s", body)
		}
	}
}
