package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hoard-cache/hoard/internal/config"
)

// observedOrigin serves the mix of TestMetricsAndAccessLog: /fresh is
// fresh for a minute, /sie is stale at once and answers 500 after its
// first time, /burst waits for release, /garbage is not HTTP.
func observedOrigin(t *testing.T, release <-chan struct{}) *httptest.Server {
	var sieCalls atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "fresh body")
		case "/sie":
			if sieCalls.Add(1) > 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Header().Set("Cache-Control", "max-age=0, stale-if-error=600")
			io.WriteString(w, "sie body")
		case "/burst":
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "burst body")
		case "/garbage":
			c, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			io.WriteString(c, "NOT HTTP AT ALL\r\n\r\n")
			c.Close()
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// sent is one request of the mix as the client saw it.
type sent struct {
	method, path string
	status       int
	cacheStatus  string
	bytes        int
}

// adminAddr waits for the admin API's address in the log.
func adminAddr(t *testing.T, s *server) string {
	t.Helper()
	re := regexp.MustCompile(`msg="admin API listening" addr=(\S+)`)
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.in.stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond) // the admin API starts beside the proxy; nothing signals it
	}
	t.Fatalf("no admin API address in the log:\n%s", s.in.stderr.String())
	return ""
}

// scrape fetches /metrics over HTTP and parses the text format.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value returns the value of the series of name with exactly labels (a
// counter's or gauge's, or a histogram's count), and false if none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, lp := range m.Label {
			got[lp.GetName()] = lp.GetValue()
		}
		match := len(got) == len(labels)/2
		for i := 0; match && i+1 < len(labels); i += 2 {
			match = got[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAndAccessLog runs hoard serve in front of an origin, sends a
// known mix (misses, hits, a stale-if-error, a collapsed burst, a purge, a
// 502), and checks the exact counts on /metrics and a line per request in
// the access log, in both formats.
func TestMetricsAndAccessLog(t *testing.T) {
	for _, format := range []string{"json", "combined"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			origin := observedOrigin(t, release)
			logPath := filepath.Join(t.TempDir(), "access.log")
			s := startServe(t, "--origin="+origin.URL, "--admin-listen=127.0.0.1:0",
				"--access-log="+logPath, "--access-log-format="+format)
			admin := adminAddr(t, s)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			var mu sync.Mutex
			var log []sent
			do := func(method, path string) sent {
				req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+s.addr+path, nil)
				req.Header.Set("Cookie", "session=secret-cookie")
				if path == "/garbage" {
					// Not on a request to be stored: a shared cache
					// stores no answer to it (RFC 9111 §3.5).
					req.Header.Set("Authorization", "Bearer secret-token")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", method, path, err)
					return sent{}
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := sent{method, path, resp.StatusCode, resp.Header.Get("Cache-Status"), len(b)}
				mu.Lock()
				log = append(log, r)
				mu.Unlock()
				return r
			}
			do("GET", "/fresh") // miss
			do("GET", "/fresh") // hit
			do("GET", "/fresh") // hit
			do("GET", "/sie")   // miss
			if r := do("GET", "/sie"); !strings.Contains(r.cacheStatus, "stale-if-error") {
				t.Errorf("second GET /sie: Cache-Status %q, want stale-if-error", r.cacheStatus)
			}
			const burst = 4
			var wg sync.WaitGroup
			for range burst {
				wg.Go(func() { do("GET", "/burst") })
			}
			// Release the origin once the burst's requests are all in:
			// one leads the fetch, the others wait for it. Their
			// connections show on the gauge; nothing signals that each
			// has joined the flight, a few microseconds later.
			deadline := time.Now().Add(stopTimeout)
			for {
				if n, _ := value(scrape(t, admin), "hoard_client_connections"); n == burst || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			close(release)
			wg.Wait()
			if r := do("PURGE", "/fresh"); r.status != http.StatusOK {
				t.Errorf("PURGE /fresh: %d, want 200", r.status)
			}
			do("GET", "/fresh") // miss again
			if r := do("GET", "/garbage"); r.status != http.StatusBadGateway {
				t.Errorf("GET /garbage: %d, want 502", r.status)
			}

			m := scrape(t, admin)
			for _, c := range []struct {
				name   string
				labels []string
				want   float64
			}{
				{"hoard_requests_total", []string{"cache", "hit", "method", "get"}, 2},
				{"hoard_requests_total", []string{"cache", "miss", "method", "get"}, 4},
				{"hoard_requests_total", []string{"cache", "stale", "method", "get"}, 1},
				{"hoard_requests_total", []string{"cache", "collapsed", "method", "get"}, burst - 1},
				{"hoard_requests_total", []string{"cache", "pass", "method", "purge"}, 1},
				{"hoard_requests_total", []string{"cache", "error", "method", "get"}, 1},
				{"hoard_requests_total", []string{"cache", "revalidated", "method", "get"}, 0},
				{"hoard_response_body_bytes_total", []string{"cache", "hit"}, 2 * float64(len("fresh body"))},
				{"hoard_origin_requests_total", []string{"status_class", "2xx", "reason", "none"}, 4},
				{"hoard_origin_requests_total", []string{"status_class", "5xx", "reason", "none"}, 1},
				{"hoard_origin_requests_total", []string{"status_class", "none", "reason", "invalid_response"}, 1},
				{"hoard_origin_response_header_seconds", nil, 5},
				{"hoard_time_to_first_byte_seconds", []string{"cache", "hit"}, 2},
				{"hoard_time_to_first_byte_seconds", []string{"cache", "miss"}, 4},
				{"hoard_coalesced_waits_total", nil, burst - 1},
				{"hoard_stale_served_total", []string{"reason", "stale-if-error"}, 1},
				{"hoard_purges_total", []string{"source", "method", "result", "done"}, 1},
				{"hoard_purged_entries_total", nil, 1},
				{"hoard_store_entries", []string{"store", "memory"}, 3},
				{"hoard_store_max_bytes", []string{"store", "memory"}, 256 << 20},
				{"hoard_store_evictions_total", []string{"store", "memory"}, 0},
			} {
				if got, ok := value(m, c.name, c.labels...); !ok || got != c.want {
					t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
				}
			}
			if _, ok := value(m, "hoard_origin_connections"); !ok {
				t.Errorf("no hoard_origin_connections")
			}

			if code := s.stop(t); code != 0 {
				t.Fatalf("hoard serve exit %d; stderr:\n%s", code, s.in.stderr.String())
			}
			checkAccessLog(t, logPath, format, log)
		})
	}
}

// checkAccessLog compares the access log with what the client sent and
// saw: one line per request, whatever their order.
func checkAccessLog(t *testing.T, path, format string, want []sent) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, secret := range []string{"secret-token", "secret-cookie"} {
		if strings.Contains(text, secret) {
			t.Errorf("the access log holds %q:\n%s", secret, text)
		}
	}
	var got []sent
	combined := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "(\S+) (\S+) HTTP/1\.1" (\d+) (\d+|-) "-" "[^"]*" "([^"]*)" (\d+\.\d{6})$`)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		var e sent
		if format == "json" {
			var j struct {
				Time, Client, Method, Target string
				Status, Bytes                int
				Duration                     float64
				CacheStatus                  string  `json:"cache_status"`
				OriginStatus                 int     `json:"origin_status"`
				OriginDuration               float64 `json:"origin_duration"`
			}
			if err := json.Unmarshal([]byte(line), &j); err != nil {
				t.Fatalf("access log line %q: %v", line, err)
			}
			if _, err := time.Parse(time.RFC3339, j.Time); err != nil || j.Client != "127.0.0.1" || j.Duration <= 0 || j.Duration > 60 {
				t.Errorf("access log line %q: bad time, client or duration (seconds)", line)
			}
			if j.Target == "/sie" && j.OriginStatus == 0 {
				t.Errorf("access log line %q: no origin_status for a request that went to the origin", line)
			}
			e = sent{j.Method, j.Target, j.Status, j.CacheStatus, j.Bytes}
		} else {
			m := combined.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("access log line %q is not in the combined format", line)
			}
			status, _ := strconv.Atoi(m[3])
			n, _ := strconv.Atoi(strings.Trim(m[4], "-"))
			e = sent{m[1], m[2], status, m[5], n}
		}
		got = append(got, e)
	}
	key := func(s sent) string { return fmt.Sprint(s) }
	var gotKeys, wantKeys []string
	for _, s := range got {
		gotKeys = append(gotKeys, key(s))
	}
	for _, s := range want {
		wantKeys = append(wantKeys, key(s))
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("access log (%s) has\n%s\nwant\n%s\nlog:\n%s", format, strings.Join(gotKeys, "\n"), strings.Join(wantKeys, "\n"), text)
	}
}

// TestOriginFailureWarningsAreGrouped sends 100 requests to an origin
// that refuses connections: the log has a handful of warning lines whose
// counts add up to 100, not a line per request. It also checks that a
// denied PURGE is logged with the client's address, and that durations in
// JSON logs are seconds.
func TestOriginFailureWarningsAreGrouped(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // an address that refuses connections
	s := startServe(t, "--origin=http://"+dead, "--log-format=json", "--purge-allow=192.0.2.0/24")
	for range 100 {
		if status, _ := s.get(t, "/x"); status != http.StatusBadGateway {
			t.Fatalf("GET /x from a dead origin: %d, want 502", status)
		}
	}
	req, _ := http.NewRequest("PURGE", "http://"+s.addr+"/x", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("PURGE from a denied address: %d, want 403", resp.StatusCode)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines, total, denied := 0, 0, 0
	sc := bufio.NewScanner(strings.NewReader(s.in.stderr.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		switch l["msg"] {
		case "origin requests failed":
			lines++
			n, _ := l["count"].(float64)
			total += int(n)
		case "PURGE denied":
			if c, _ := l["client"].(string); strings.HasPrefix(c, "127.0.0.1:") && l["level"] == "WARN" {
				denied++
			}
		case "shutting down":
			if g, _ := l["grace"].(float64); g != config.Default().ShutdownGrace.Seconds() {
				t.Errorf("shutting down: grace = %v, want %v (seconds)", l["grace"], config.Default().ShutdownGrace.Seconds())
			}
		}
	}
	if lines == 0 || lines > 5 || total != 100 {
		t.Errorf("%d warning lines counting %d failures, want a handful counting 100; log:\n%s", lines, total, s.in.stderr.String())
	}
	if denied != 1 {
		t.Errorf("%d warnings of a denied PURGE with the client's address, want 1", denied)
	}
}
