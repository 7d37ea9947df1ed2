package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoard-cache/hoard/internal/metrics"
)

// getStats fetches and decodes GET /_hoard/stats.
func getStats(t *testing.T, base string) Report {
	t.Helper()
	resp, err := http.Get(base + "/_hoard/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET /_hoard/stats: %d, %v", resp.StatusCode, err)
	}
	return r
}

func TestStats(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.RegisterStores(reg, []metrics.Store{{Name: "memory", Stats: func() metrics.StoreStats {
		return metrics.StoreStats{Entries: 3, Bytes: 300, MaxBytes: 1200, Evictions: -1}
	}}}); err != nil {
		t.Fatal(err)
	}
	top := metrics.NewTopURLs()
	now := time.UnixMilli(1_000_000)
	stats := NewStats(StatsOptions{Gatherer: reg, TopURLs: top, Ready: readiness{errors.New("redis store: unreachable")},
		Clock: func() time.Time { return now }})
	srv := httptest.NewServer(New(Options{Engine: &recorder{}, Stats: stats}))
	t.Cleanup(srv.Close)

	stats.tick(t.Context())
	for range 3 {
		m.Served(&metrics.Request{Outcome: metrics.Hit, Bytes: 100})
		top.Count("/a", false)
	}
	m.Served(&metrics.Request{Outcome: metrics.Miss, Bytes: 100})
	top.Count("/b", true)
	m.Origin(200, metrics.OriginAnswered, 20*time.Millisecond)
	m.Origin(0, metrics.OriginUnreachable, time.Millisecond)
	m.Purged(metrics.PurgeAdmin, metrics.PurgeDone, 2)
	now = now.Add(time.Second)
	stats.tick(t.Context())

	r := getStats(t, srv.URL)
	if r.Requests != 4 || r.ByCache["hit"] != 3 || r.ByCache["miss"] != 1 || r.HitRatio != 0.75 || r.Bytes != 400 {
		t.Errorf("totals = %v requests, %v, ratio %v, %v bytes; want 4, 3 hits and 1 miss, 0.75, 400", r.Requests, r.ByCache, r.HitRatio, r.Bytes)
	}
	if len(r.Samples) != 1 || r.Samples[0] != (Sample{Time: 1_001_000, Requests: 4, Hits: 3, Misses: 1, Bytes: 400, OriginRequests: 2, OriginErrors: 1, OriginLatency: 0.02}) {
		t.Errorf("samples = %+v, want the one second's differences", r.Samples)
	}
	if r.Origin != "degraded" || r.OriginErrors != 1 || r.OriginRequests != 2 {
		t.Errorf("origin = %s, %v errors of %v, want degraded, 1 of 2", r.Origin, r.OriginErrors, r.OriginRequests)
	}
	if r.Store.Ready || !strings.Contains(r.Store.Reason, "unreachable") {
		t.Errorf("store = %+v, want not ready with the reason", r.Store)
	}
	if len(r.Stores) != 1 || r.Stores[0] != (StoreUse{Name: "memory", Entries: 3, Bytes: 300, MaxBytes: 1200}) {
		t.Errorf("stores = %+v, want memory 3 entries, 300 of 1200 bytes", r.Stores)
	}
	if len(r.TopRequests) != 2 || r.TopRequests[0].Path != "/a" || len(r.TopMisses) != 1 || r.TopMisses[0].Path != "/b" {
		t.Errorf("top = %+v and %+v, want /a first, and /b missed", r.TopRequests, r.TopMisses)
	}
	if len(r.Purges) != 1 || r.Purges[0] != (PurgeEvent{Time: 1_001_000, Admin: 1, Entries: 2}) {
		t.Errorf("purges = %+v, want one from the admin API removing 2", r.Purges)
	}

	// The ring keeps five minutes.
	for range ringLen + 5 {
		now = now.Add(time.Second)
		stats.tick(t.Context())
	}
	if r := getStats(t, srv.URL); len(r.Samples) != ringLen || r.Origin != "idle" {
		t.Errorf("after %d more seconds: %d samples, origin %s; want %d, idle", ringLen+5, len(r.Samples), r.Origin, ringLen)
	}
}

func TestDashboardPage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{Engine: &recorder{}, Stats: NewStats(StatsOptions{Gatherer: prometheus.NewRegistry()})}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("GET / = %d %v, want the page, with a policy that loads nothing from elsewhere", resp.StatusCode, resp.Header)
	}
	if resp, err := http.Get(srv.URL + "/nothing"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /nothing = %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, ext := range []string{"http://", "https://", "//fonts", "@import"} {
		if strings.Contains(string(dashboardHTML), ext) {
			t.Errorf("the page refers to %q: it must load nothing from elsewhere", ext)
		}
	}
}
