// Package redistest runs real redis-server processes for tests: one per
// call, on a free loopback port, with no persistence, stopped when the test
// ends. It must not be imported outside tests.
//
// Without redis-server on PATH the test is skipped, except when the
// environment has CI=true: then it fails, since CI must run the Redis tests.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// startTimeout bounds waiting for a started server to answer PING.
	startTimeout = 10 * time.Second
	// stopTimeout bounds waiting for a server to exit after SIGTERM, before
	// it is killed.
	stopTimeout = 5 * time.Second
	// startAttempts is how often a start is retried on a new port when the
	// free port found was taken before the server bound it.
	startAttempts = 3
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	bin  string
	args []string // extra arguments, after the ones Server sets
	dir  string
	port int

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is a running redis-server.
type process struct {
	cmd    *exec.Cmd
	output *bytes.Buffer // stdout and stderr; read only after exited closes
	exited chan struct{} // closed when cmd.Wait has returned
}

// Start starts a redis-server for t and returns its address (host:port).
func Start(t testing.TB) (addr string) {
	t.Helper()
	return StartServer(t).Addr()
}

// StartServer starts a redis-server for t, passing it args after its own
// settings, and stops it in t.Cleanup.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found; .ci/run installs it")
		}
		t.Skip("redis-server not found on PATH; install it (scripts/redis.sh does) to run the Redis tests")
	}
	s := &Server{t: t, bin: bin, args: args, dir: t.TempDir()}
	t.Cleanup(s.Stop)
	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == startAttempts {
			t.Fatalf("redistest: %v", err)
		}
		t.Logf("redistest: %v; trying another port", err)
	}
}

// StartCluster starts a redis-server in cluster mode that serves all 16384
// slots by itself: a one-node Redis Cluster, for testing cluster clients.
func StartCluster(t testing.TB) (addr string) {
	t.Helper()
	s := StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if _, err := s.Command("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatalf("redistest: assigning the cluster's slots: %v", err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := s.Command("CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s.Addr()
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ready after %v: %q, %v", startTimeout, info, err)
		}
		time.Sleep(10 * time.Millisecond) // polling another process: no channel to wait on
	}
}

// Addr returns the server's address, the same across restarts.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop stops the server and waits for it to exit. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	// A server that already exited refuses the signals; Wait tells. Resume
	// first, in case it was paused.
	if resumeSignal != nil {
		_ = p.cmd.Process.Signal(resumeSignal)
	}
	_ = terminate(p.cmd.Process)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		s.t.Errorf("redistest: redis-server on port %d ignored SIGTERM for %v; killing it", s.port, stopTimeout)
		_ = p.cmd.Process.Kill() // it is exiting one way or the other
		<-p.exited
	}
}

// Restart starts the server again on the same port, after Stop. Being
// without persistence, it starts empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Pause freezes the server (SIGSTOP) without closing its connections, as
// an overloaded or hung Redis looks to its clients: connections open, no
// replies. Resume undoes it; Stop and Restart resume a paused server first.
// Where there are no such signals (Windows), the test is skipped.
func (s *Server) Pause() { s.signal(pauseSignal) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(resumeSignal) }

func (s *Server) signal(sig os.Signal) {
	s.t.Helper()
	if sig == nil {
		s.t.Skip("redistest: pausing a server needs SIGSTOP and SIGCONT, which this system lacks")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %v to a stopped server", sig)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Command sends one command to the server and returns its reply as text, for
// setting up and inspecting tests without a client library. It understands
// simple, error, integer and bulk replies.
func (s *Server) Command(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '+' || line[0] == ':':
		return line[1:], nil
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err // $-1, a nil reply, gives "" and no error
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unsupported reply %q", line)
	}
}

// start runs redis-server on s.port and waits until it answers PING.
func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	p := &process{cmd: cmd, output: new(bytes.Buffer), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	go func() {
		// The exit status is reported through output and exited; a server
		// stopped by SIGTERM exits 0 anyway.
		_ = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := s.Command("PING")
		if err == nil && reply == "PONG" {
			break
		}
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, p.output)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill() // it failed to start; we report that
			<-p.exited
			return fmt.Errorf("redis-server on port %d did not answer PING within %v (last: %q, %v):\n%s",
				s.port, startTimeout, reply, err, p.output)
		}
		time.Sleep(10 * time.Millisecond) // polling another process: no channel to wait on
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
