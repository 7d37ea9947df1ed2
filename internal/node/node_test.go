package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// run feeds input to a fresh node and returns its output and its log.
func run(t *testing.T, input string, opts Options) (out, log string) {
	t.Helper()
	var logBuf bytes.Buffer
	if opts.Start.IsZero() {
		opts.Start = start
	}
	opts.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var outBuf bytes.Buffer
	if err := n.Run(t.Context(), strings.NewReader(input), &outBuf); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return outBuf.String(), logBuf.String()
}

// TestGolden compares the exact output bytes of each testdata/*.in with
// the matching .out. Run with -update to rewrite the .out files.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := run(t, string(input), Options{})
			golden := strings.TrimSuffix(in, ".in") + ".out"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestInitExactBytes(t *testing.T) {
	got, _ := run(t, `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`+"\n", Options{})
	want := `{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":0}}` + "\n"
	if got != want {
		t.Errorf("init reply:\n got %q\nwant %q", got, want)
	}
}

// reply is a decoded reply body.
type reply struct {
	Type           string            `json:"type"`
	InReplyTo      int64             `json:"in_reply_to"`
	MsgID          int64             `json:"msg_id"`
	Code           int               `json:"code"`
	Text           string            `json:"text"`
	Status         int               `json:"status"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	Cache          string            `json:"cache"`
	OriginRequests int               `json:"origin_requests"`
}

func replies(t *testing.T, out string) []reply {
	t.Helper()
	var rs []reply
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Src, Dest string
			Body      reply
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line is not JSON: %q: %v", line, err)
		}
		rs = append(rs, m.Body)
	}
	return rs
}

// session builds input lines: init, then each body with msg_ids from 2.
func session(bodies ...string) string {
	var b strings.Builder
	b.WriteString(`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n")
	for i, body := range bodies {
		fmt.Fprintf(&b, `{"src":"c1","dest":"n1","body":{"msg_id":%d,%s}}`+"\n", i+2, body)
	}
	return b.String()
}

func TestMaxAgeHitThenExpiry(t *testing.T) {
	out, _ := run(t, session(
		`"type":"origin_put","path":"/a","headers":{"Cache-Control":"max-age=60"},"body":"A"`,
		`"type":"request","path":"/a"`,
		`"type":"request","path":"/a"`,
		`"type":"advance_clock","seconds":61`,
		`"type":"request","path":"/a"`,
	), Options{})
	rs := replies(t, out)
	if len(rs) != 6 {
		t.Fatalf("%d replies, want 6:\n%s", len(rs), out)
	}
	checks := []struct {
		i       int
		cache   string
		origins int
	}{
		{2, "hoard; fwd=uri-miss; fwd-status=200; ttl=60; stored", 1},
		{3, "hoard; hit; ttl=60", 1},
		{5, "hoard; fwd=stale; fwd-status=200", 2},
	}
	for _, c := range checks {
		r := rs[c.i]
		if r.Type != "response" || r.Status != 200 || r.Body != "A" || !strings.HasPrefix(r.Cache, c.cache) || r.OriginRequests != c.origins {
			t.Errorf("reply %d = %+v, want response 200 A, cache %q, origin_requests %d", c.i, r, c.cache, c.origins)
		}
	}
	if rs[4].Type != "advance_clock_ok" {
		t.Errorf("reply 4 type %q, want advance_clock_ok", rs[4].Type)
	}
	for i, r := range rs {
		if r.MsgID != int64(i) || r.InReplyTo != int64(i+1) {
			t.Errorf("reply %d: msg_id %d in_reply_to %d, want %d and %d", i, r.MsgID, r.InReplyTo, i, i+1)
		}
	}
}

func TestNoStoreNeverStored(t *testing.T) {
	out, _ := run(t, session(
		`"type":"origin_put","path":"/n","headers":{"Cache-Control":"no-store"},"body":"N"`,
		`"type":"request","path":"/n"`,
		`"type":"request","path":"/n"`,
	), Options{})
	rs := replies(t, out)
	if r := rs[3]; r.OriginRequests != 2 || !strings.Contains(r.Cache, "detail=no-store") {
		t.Errorf("second request: %+v, want origin_requests 2 and detail=no-store", r)
	}
}

func TestETagRevalidation(t *testing.T) {
	out, _ := run(t, session(
		`"type":"origin_put","path":"/e","headers":{"Cache-Control":"max-age=10","ETag":"\"v1\""},"body":"E"`,
		`"type":"request","path":"/e"`,
		`"type":"advance_clock","seconds":11`,
		`"type":"request","path":"/e"`,
		`"type":"request","path":"/e","headers":{"If-None-Match":"\"v1\""}`,
	), Options{})
	rs := replies(t, out)
	if r := rs[4]; r.Status != 200 || r.Body != "E" || r.OriginRequests != 2 || !strings.HasPrefix(r.Cache, "hoard; fwd=stale; fwd-status=304") {
		t.Errorf("revalidated request: %+v, want 200 E from a 304, origin_requests 2", r)
	}
	if r := rs[5]; r.Status != 304 || r.OriginRequests != 2 || !strings.HasPrefix(r.Cache, "hoard; hit") {
		t.Errorf("client conditional: %+v, want 304 hit", r)
	}
}

// TestRealOriginSeesValidators uses --origin with an httptest origin, so the
// validators the cache sends can be observed.
func TestRealOriginSeesValidators(t *testing.T) {
	var inm, ims atomic.Value
	var n atomic.Int64
	lm := "Tue, 24 Nov 2026 12:00:00 GMT"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		inm.Store(r.Header.Get("If-None-Match"))
		ims.Store(r.Header.Get("If-Modified-Since"))
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Last-Modified", lm)
		if r.URL.Path == "/etag" {
			w.Header().Set("ETag", `"x"`)
		}
		if r.Header.Get("If-Modified-Since") == lm || r.Header.Get("If-None-Match") == `"x"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "real")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	out, _ := run(t, session(
		`"type":"request","path":"/lm"`,
		`"type":"request","path":"/lm"`,
		`"type":"request","path":"/etag"`,
		`"type":"request","path":"/etag"`,
	), Options{Origin: u, Start: time.Now().Truncate(time.Second)})
	rs := replies(t, out)
	if r := rs[2]; r.Body != "real" || r.OriginRequests != 2 || !strings.HasPrefix(r.Cache, "hoard; fwd=stale; fwd-status=304") {
		t.Errorf("If-Modified-Since revalidation: %+v", r)
	}
	if r := rs[4]; r.Body != "real" || r.OriginRequests != 2 || inm.Load() != `"x"` {
		t.Errorf("If-None-Match revalidation: %+v, origin saw If-None-Match %v", r, inm.Load())
	}
	if n.Load() != 4 {
		t.Errorf("origin requests %d, want 4", n.Load())
	}
}

func TestVary(t *testing.T) {
	out, _ := run(t, session(
		`"type":"origin_put","path":"/v","headers":{"Cache-Control":"max-age=60","Vary":"Accept-Language"},"body":"V"`,
		`"type":"request","path":"/v","headers":{"Accept-Language":"en"}`,
		`"type":"request","path":"/v","headers":{"Accept-Language":"fr"}`,
		`"type":"request","path":"/v","headers":{"Accept-Language":"en"}`,
		`"type":"request","path":"/v","headers":{"Accept-Language":"fr"}`,
	), Options{})
	rs := replies(t, out)
	want := []struct {
		cache   string
		origins int
	}{{"hoard; fwd=uri-miss", 1}, {"hoard; fwd=vary-miss", 2}, {"hoard; hit", 2}, {"hoard; hit", 2}}
	for i, w := range want {
		if r := rs[i+2]; !strings.HasPrefix(r.Cache, w.cache) || r.OriginRequests != w.origins {
			t.Errorf("request %d: cache %q origin_requests %d, want %q %d", i, r.Cache, r.OriginRequests, w.cache, w.origins)
		}
	}
}

func TestBadInputNeverStopsTheNode(t *testing.T) {
	input := "this is not json\n" +
		`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n" +
		`{"src":"c1","dest":"n1","body":{"type":"frobnicate","msg_id":2}}` + "\n" +
		`{"src":"c1","dest":"n1","body":{"type":"request","msg_id":3}}` + "\n" +
		`{"src":"c1","dest":"n1","body":{"type":"advance_clock","msg_id":4,"seconds":"soon"}}` + "\n" +
		"{ broken json\n" +
		// A message pretty-printed over several lines.
		"{\n  \"src\": \"c1\",\n  \"dest\": \"n1\",\n  \"body\": {\"type\": \"advance_clock\", \"msg_id\": 5, \"seconds\": 1}\n}\n"
	out, log := run(t, input, Options{})
	rs := replies(t, out)
	if len(rs) != 5 {
		t.Fatalf("%d replies, want 5:\n%s", len(rs), out)
	}
	if rs[1].Type != "error" || rs[1].Code != CodeNotSupported || rs[1].InReplyTo != 2 {
		t.Errorf("unknown type: %+v, want error code 10", rs[1])
	}
	if rs[2].Type != "error" || rs[2].Code != CodeMalformed {
		t.Errorf("request without path: %+v, want error code 12", rs[2])
	}
	if rs[3].Type != "error" || rs[3].Code != CodeMalformed {
		t.Errorf("advance_clock with a string: %+v, want error code 12", rs[3])
	}
	if rs[4].Type != "advance_clock_ok" || rs[4].InReplyTo != 5 || rs[4].MsgID != 4 {
		t.Errorf("multi-line message: %+v, want advance_clock_ok in reply to 5, msg_id 4", rs[4])
	}
	if !strings.Contains(log, "not a JSON object") || !strings.Contains(log, "not a valid message") {
		t.Errorf("bad lines not reported on the log:\n%s", log)
	}
}
