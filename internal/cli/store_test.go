package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestServeDiskStoreOnAFile: a disk store whose path is a file stops Hoard
// with exit status 2 and a message in the operator's words, naming the
// flag and the path, and no name from the code (Options.Path).
func TestServeDiskStoreOnAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in := &invocation{
		args:  []string{"serve", "--origin", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--store", "disk:" + file},
		ready: func(addr string) { t.Errorf("hoard listened on %s with a disk store it cannot open", addr) },
	}
	code := in.run(t.Context())
	want := fmt.Sprintf("hoard serve: --store %q: disk store: %s is not a directory\n", "disk:"+file, file)
	if stderr := in.stderr.String(); code != 2 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
