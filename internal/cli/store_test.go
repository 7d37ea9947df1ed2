package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestServeDiskStoreSurvivesRestart: with --store disk:DIR, a response
// stored before a restart is served after it without asking the origin.
func TestServeDiskStoreSurvivesRestart(t *testing.T) {
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, "kept on disk")
	}))
	defer origin.Close()
	dir := t.TempDir()
	// The same address both times: the cache key includes the host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"--origin", origin.URL, "--store", "disk:" + dir, "--listen", addr}

	s := startServe(t, args...)
	if code, body := s.get(t, "/d"); code != 200 || body != "kept on disk" {
		t.Fatalf("first request: %d %q", code, body)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("stop exit %d: %s", code, s.in.stderr.String())
	}

	s = startServe(t, args...)
	resp, err := http.Get("http://" + s.addr + "/d")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Header.Get("Cache-Status"); !strings.HasPrefix(cs, "hoard; hit") {
		t.Errorf("after restart: Cache-Status %q, want a hit", cs)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("origin requests %d, want 1", n)
	}
}

func TestServeBadStore(t *testing.T) {
	in := &invocation{args: []string{"serve", "--origin", "http://127.0.0.1:1", "--store", "tape:/dev/st0"}}
	if code := in.run(t.Context()); code != 2 || !strings.Contains(in.stderr.String(), "--store") {
		t.Errorf("bad --store: exit %d, stderr %q; want 2 naming --store", code, in.stderr.String())
	}
}
