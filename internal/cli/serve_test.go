package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stopTimeout bounds how long a test waits for serve to stop; it is far
// above the time a clean shutdown takes and only turns a hang into a failure.
const stopTimeout = 15 * time.Second

// server is "hoard serve" running in the background of a test.
type server struct {
	in     *invocation
	addr   string
	cancel context.CancelFunc
	done   chan struct{} // closed when serve has returned code
	code   int
}

// startServe runs hoard serve with args plus --listen on a free loopback
// port, and returns once it is accepting connections.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with the environment variables in env.
func startServeEnv(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	s := &server{
		in: &invocation{
			args:  append([]string{"serve", "--listen=127.0.0.1:0"}, args...),
			env:   env,
			ready: func(addr string) { addrs <- addr },
		},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.code = s.in.run(ctx)
	}()
	select {
	case s.addr = <-addrs:
	case <-s.done:
		cancel()
		t.Fatalf("hoard %q exited %d before listening; stderr:\n%s", s.in.args, s.code, s.in.stderr.String())
	}
	t.Cleanup(func() {
		cancel() // harmless when stop already ran
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
		}
	})
	return s
}

// stop cancels serve's context, as SIGINT does, and returns its exit status.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		return s.code
	case <-time.After(stopTimeout):
		t.Fatalf("hoard serve did not stop within %s of its context being canceled", stopTimeout)
		return -1
	}
}

// fetch gets path through the server; it may run outside the test's goroutine.
func (s *server) fetch(ctx context.Context, path string) (status int, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// get is fetch for the test's goroutine, failing the test on error.
func (s *server) get(t *testing.T, path string) (int, string) {
	t.Helper()
	status, body, err := s.fetch(t.Context(), path)
	if err != nil {
		t.Fatalf("GET %s through hoard: %v", path, err)
	}
	return status, body
}

func TestServeDemo(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--demo")

	// The proxy answers; what it answers is the proxy's tests' business.
	if status, _ := s.get(t, "/cached"); status == 0 {
		t.Fatal("GET /cached through hoard --demo: no status")
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("hoard serve --demo exit %d after its context was canceled, want 0; stderr:\n%s", code, s.in.stderr.String())
	}

	stdout, stderr := s.in.stdout.String(), s.in.stderr.String()
	for _, want := range []string{
		"curl -si http://" + s.addr + "/cached\n  curl -si http://" + s.addr + "/cached\n",
		"curl -si http://" + s.addr + "/no-store\n",
		"curl -si -H 'Accept-Language: fr' http://" + s.addr + "/vary\n",
		"curl -si http://" + s.addr + "/etag\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("hoard serve --demo stdout does not contain %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{"msg=listening addr=" + s.addr + " ", `msg="shutting down"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("hoard serve --demo log does not contain %q:\n%s", want, stderr)
		}
	}
}

func TestServeOriginWithJSONLog(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "from the origin")
	}))
	t.Cleanup(origin.Close)
	s := startServe(t, "--origin="+origin.URL, "--log-format=json")

	if status, _ := s.get(t, "/"); status == 0 {
		t.Fatal("GET / through hoard: no status")
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("hoard serve exit %d, want 0; stderr:\n%s", code, s.in.stderr.String())
	}
	if s.in.stdout.String() != "" {
		t.Errorf("hoard serve without --demo wrote to stdout: %q", s.in.stdout.String())
	}

	var listening struct{ Level, Msg, Addr, Origin string }
	first, _, _ := strings.Cut(s.in.stderr.String(), "\n")
	if err := json.Unmarshal([]byte(first), &listening); err != nil {
		t.Fatalf("first log line %q is not JSON: %v", first, err)
	}
	if listening.Msg != "listening" || listening.Addr != s.addr || listening.Origin != origin.URL {
		t.Errorf("first log line %+v, want msg listening, addr %s, origin %s", listening, s.addr, origin.URL)
	}
}

// TestServeCPUs checks that --cpus and HOARD_CPUS reach GOMAXPROCS and the
// listening line, and that without them Go's default is left alone (so an
// operator's GOMAXPROCS variable keeps working).
func TestServeCPUs(t *testing.T) {
	t.Parallel()
	goDefault := runtime.GOMAXPROCS(0)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantSet  int // what GOMAXPROCS was set to; 0: left alone
		wantProc int // gomaxprocs in the listening line
	}{
		{"--cpus sets it", []string{"--cpus=3"}, nil, 3, 3},
		{"HOARD_CPUS sets it", nil, map[string]string{"HOARD_CPUS": "1"}, 1, 1},
		{"the flag beats HOARD_CPUS", []string{"--cpus", "2"}, map[string]string{"HOARD_CPUS": "1"}, 2, 2},
		{"--cpus 0 leaves Go's default", []string{"--cpus=0"}, nil, 0, goDefault},
		{"no --cpus leaves Go's default", nil, nil, 0, goDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServeEnv(t, tt.env, append([]string{"--demo"}, tt.args...)...)
			if code := s.stop(t); code != 0 {
				t.Fatalf("hoard serve %q exit %d, want 0; stderr:\n%s", tt.args, code, s.in.stderr.String())
			}
			if s.in.procs != tt.wantSet {
				t.Errorf("hoard serve %q env %v set GOMAXPROCS to %d, want %d (0: left alone)", tt.args, tt.env, s.in.procs, tt.wantSet)
			}
			listening := regexp.MustCompile(`msg=listening .*`).FindString(s.in.stderr.String())
			if want := fmt.Sprintf(" gomaxprocs=%d", tt.wantProc); !strings.HasSuffix(listening, want) {
				t.Errorf("hoard serve %q env %v logged %q, want it to end with %q", tt.args, tt.env, listening, want)
			}
		})
	}
}

// TestServeFinishesRequestsWhenStopped pins the graceful shutdown: a
// request in flight when the signal comes still gets its whole answer.
func TestServeFinishesRequestsWhenStopped(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "finished")
	}))
	t.Cleanup(origin.Close)
	s := startServe(t, "--origin="+origin.URL)

	answered := make(chan string, 1)
	go func() {
		status, body, err := s.fetch(t.Context(), "/in-flight")
		answered <- fmt.Sprintf("%d %q %v", status, body, err)
	}()
	<-arrived
	shuttingDown := s.in.stderr.written(`msg="shutting down"`)
	s.cancel()
	<-shuttingDown
	close(release)
	if got, want := <-answered, `200 "finished" <nil>`; got != want {
		t.Errorf("request in flight at shutdown got %s, want %s", got, want)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("hoard serve exit %d, want 0; stderr:\n%s", code, s.in.stderr.String())
	}
}

// TestServeWarnsOfUnknownVariables: a HOARD_ variable that is no setting,
// likely a typing error, is named in a warning at start-up.
func TestServeWarnsOfUnknownVariables(t *testing.T) {
	t.Parallel()
	s := startServeEnv(t, map[string]string{"HOARD_MAX_MEMROY": "1GiB", "HOARD_MAX_MEMORY": "1GiB"}, "--demo")
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	stderr := s.in.stderr.String()
	if !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "name=HOARD_MAX_MEMROY") {
		t.Errorf("log does not warn of HOARD_MAX_MEMROY:\n%s", stderr)
	}
	if strings.Contains(stderr, "name=HOARD_MAX_MEMORY") {
		t.Errorf("log warns of HOARD_MAX_MEMORY, a setting:\n%s", stderr)
	}
}

func TestServeListenFails(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })

	in := &invocation{args: []string{"serve", "--demo", "--listen=" + taken.Addr().String()}}
	if code := in.run(t.Context()); code != 1 {
		t.Errorf("hoard serve on a port in use exit %d, want 1", code)
	}
	if got := in.stderr.String(); !strings.Contains(got, `msg="serve failed"`) || !strings.Contains(got, taken.Addr().String()) {
		t.Errorf("hoard serve on a port in use logged:\n%s\nwant serve failed naming %s", got, taken.Addr())
	}
}

func TestDialable(t *testing.T) {
	t.Parallel()
	tests := []struct{ listening, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::1]:8080", "[::1]:8080"},
		{"0.0.0.0:8080", "localhost:8080"},
		{"[::]:8080", "localhost:8080"},
		{":8080", "localhost:8080"},
		{"example.com:80", "example.com:80"},
	}
	for _, tt := range tests {
		if got := dialable(tt.listening); got != tt.want {
			t.Errorf("dialable(%q) = %q, want %q", tt.listening, got, tt.want)
		}
	}
}
