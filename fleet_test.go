package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store/redistest"
)

// fleetHost is the host name clients use for every node, as behind a load
// balancer: the cache key includes it.
const fleetHost = "www.fleet.test"

// node is one hoard process of a fleet.
type node struct {
	addr, admin string
	cmd         *exec.Cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode runs the built binary and waits until it answers.
func startNode(t *testing.T, bin string, args ...string) *node {
	t.Helper()
	n := &node{addr: freeAddr(t), admin: freeAddr(t)}
	ctx, cancel := context.WithCancel(context.Background())
	n.cmd = exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", n.addr, "--admin-listen", n.admin,
		"--log-level", "warn"}, args...)...)
	stderr, _ := n.cmd.StderrPipe()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = n.cmd.Wait() // killed on purpose
		if t.Failed() {
			logMu.Lock()
			t.Logf("node %s log:\n%s", n.addr, logs.String())
			logMu.Unlock()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + n.admin + "/_hoard/health")
		if err == nil {
			resp.Body.Close()
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not start: %v", n.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polls the real condition: the process gives no other signal
	}
}

// get requests path from the node with the fleet's host name.
func (n *node) get(t *testing.T, path string, header ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.addr+path, nil)
	req.Host = fleetHost
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s from %s: %v", path, n.addr, err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
}

// purgeReach bounds how long a purge on one node may take to reach every
// node's memory tier in the test: about a millisecond on an idle machine,
// and kept generous for a loaded one.
const purgeReach = 2 * time.Second

// waitPurged asks each node for path with only-if-cached until it answers
// 504 (nothing stored), for at most purgeReach from the purge's answer at
// start, and fails for each node that still serves it then.
func waitPurged(t *testing.T, nodes []*node, path string, start time.Time) {
	t.Helper()
	for i, n := range nodes {
		for {
			// only-if-cached: a node still holding the entry answers 200.
			code, _, cs := n.get(t, path, "Cache-Control", "only-if-cached")
			if code == 504 {
				break
			}
			if time.Since(start) > purgeReach {
				t.Errorf("node %d %v after the purge of %s: %d (%s), want 504: nothing stored", i, purgeReach, path, code, cs)
				break
			}
		}
	}
	t.Logf("the purge of %s reached every node within %v", path, time.Since(start).Round(time.Millisecond))
}

// TestFleet runs three hoard processes sharing one real Redis: a burst for
// a cold URL across all three makes one origin request, a purge on one
// node reaches every node's memory tier (within purgeReach), and is not
// undone by a fetch another node had under way.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and three hoard processes")
	}
	redis := redistest.StartServer(t)
	redisAddr := redis.Addr()
	bin := buildHoard(t)
	var originHits atomic.Int64
	// /slow/held is answered once the test closes release; fetching tells
	// the test it was asked for.
	fetching, release := make(chan struct{}, 1), make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		switch {
		case r.URL.Path == "/slow/held":
			select {
			case fetching <- struct{}{}:
			default:
			}
			<-release
		case strings.HasPrefix(r.URL.Path, "/slow"):
			time.Sleep(time.Second) // a slow origin: the whole burst arrives while it fetches
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Surrogate-Key", "fleet")
		fmt.Fprintf(w, "body of %s", r.URL.Path)
	}))
	defer origin.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // before origin.Close, which waits for its handlers

	var nodes []*node
	for range 3 {
		nodes = append(nodes, startNode(t, bin, "--origin", origin.URL, "--store", "redis://"+redisAddr+"/0"))
	}

	t.Run("cold burst across the fleet makes one origin request", func(t *testing.T) {
		before := originHits.Load()
		var wg sync.WaitGroup
		for i := range 30 {
			n := nodes[i%3]
			wg.Go(func() {
				if code, body, cs := n.get(t, "/slow/burst"); code != 200 || body != "body of /slow/burst" {
					t.Errorf("burst request: %d %q (%s)", code, body, cs)
				}
			})
		}
		wg.Wait()
		if got := originHits.Load() - before; got != 1 {
			t.Errorf("origin requests for the burst = %d, want 1", got)
		}
	})

	t.Run("purge on one node reaches all", func(t *testing.T) {
		for _, n := range nodes {
			n.get(t, "/p")
			if _, _, cs := n.get(t, "/p"); !strings.HasPrefix(cs, "hoard; hit") {
				t.Fatalf("node %s before the purge: %q, want a hit", n.addr, cs)
			}
		}
		body := `{"urls":["http://` + fleetHost + `/p"]}`
		resp, err := http.Post("http://"+nodes[0].admin+"/_hoard/purge", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("purge: %d", resp.StatusCode)
		}
		waitPurged(t, nodes, "/p", time.Now())
	})

	t.Run("purge on one node during another's fetch is not undone", func(t *testing.T) {
		// Node 0 is fetching when node 1 purges its URL: what node 0 brings
		// back is served to its client but stored nowhere.
		fetched := make(chan string, 1)
		go func() {
			_, body, _ := nodes[0].get(t, "/slow/held")
			fetched <- body
		}()
		select {
		case <-fetching:
		case <-time.After(10 * time.Second):
			t.Fatal("node 0 did not ask the origin for /slow/held")
		}
		body := `{"urls":["http://` + fleetHost + `/slow/held"]}`
		resp, err := http.Post("http://"+nodes[1].admin+"/_hoard/purge", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		releaseOnce()
		if got := <-fetched; got != "body of /slow/held" {
			t.Errorf("node 0's client got %q", got)
		}
		time.Sleep(100 * time.Millisecond) // a store that node 0 made after its answer would land in this
		for i, n := range nodes {
			if code, _, cs := n.get(t, "/slow/held", "Cache-Control", "only-if-cached"); code != 504 {
				t.Errorf("node %d after a purge made during node 0's fetch: %d (%s), want 504: nothing stored", i, code, cs)
			}
		}
	})

	t.Run("Redis down: nodes keep serving", func(t *testing.T) {
		nodes[0].get(t, "/warm") // in node 0's memory tier
		redis.Stop()
		for i, n := range nodes {
			if code, body, cs := n.get(t, "/warm"); code != 200 || body != "body of /warm" {
				t.Errorf("node %d with Redis down: %d %q (%s)", i, code, body, cs)
			}
			if code, body, cs := n.get(t, fmt.Sprintf("/new/%d", i)); code != 200 || body != fmt.Sprintf("body of /new/%d", i) {
				t.Errorf("node %d, cold URL with Redis down: %d %q (%s)", i, code, body, cs)
			}
		}
		redis.Restart()
	})

	t.Run("tag purge reaches all nodes", func(t *testing.T) {
		for _, n := range nodes {
			n.get(t, "/t")
		}
		resp, err := http.Post("http://"+nodes[2].admin+"/_hoard/purge", "application/json", strings.NewReader(`{"tags":["fleet"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitPurged(t, nodes, "/t", time.Now())
	})
}
