//go:build unix

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is the built binary running "hoard serve" in a test.
type proc struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's, once exited is closed

	mu   sync.Mutex // guards logs, want
	logs strings.Builder
	want map[string]chan struct{} // closed once the log holds the key
}

// startProc runs bin serve with args on a free port and returns once it
// logs that it is listening.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: freeAddr(t), exited: make(chan struct{}), want: map[string]chan struct{}{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", p.addr}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			for text, ch := range p.want {
				if strings.Contains(p.logs.String(), text) {
					close(ch)
					delete(p.want, text)
				}
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		<-logged // Wait closes the pipe: read it all first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // harmless once it has exited
		<-p.exited
		if t.Failed() {
			t.Logf("hoard log:\n%s", p.log())
		}
	})
	select {
	case <-p.logged("msg=listening"):
	case <-p.exited:
		t.Fatalf("hoard exited before listening: %v\n%s", p.err, p.log())
	case <-time.After(10 * time.Second):
		t.Fatalf("hoard did not listen within 10s:\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// logged returns a channel closed once the log contains text.
func (p *proc) logged(text string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(p.logs.String(), text) {
		close(ch)
		return ch
	}
	p.want[text] = ch
	return ch
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// exit waits at most within for the process to exit, and returns its exit
// status and how long it took.
func (p *proc) exit(t *testing.T, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("hoard still running %v after the signal:\n%s", within, p.log())
	}
	took := time.Since(start)
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, took
	case errors.As(p.err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), took
	}
	t.Fatalf("hoard ended by %v, want an exit status", p.err)
	return -1, took
}

// get requests path; it may run outside the test's goroutine.
func (p *proc) get(path string) string {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Sprintf("%d %q cut: %v", resp.StatusCode, b, err)
	}
	return fmt.Sprintf("%d %q", resp.StatusCode, b)
}

// heldOrigin is an origin whose /held requests wait until release is
// closed (or their client leaves), and say on arrived that they came.
type heldOrigin struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
	Release func() // closes release, once
}

func newHeldOrigin(t *testing.T) *heldOrigin {
	o := &heldOrigin{arrived: make(chan struct{}, 10), release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			o.arrived <- struct{}{}
			select {
			case <-o.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "finished")
	}))
	o.Release = sync.OnceFunc(func() { close(o.release) })
	t.Cleanup(func() {
		o.Release()
		o.Close()
	})
	return o
}

// TestSignals runs the built binary and stops it the ways operators and
// supervisors do.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildHoard(t)

	t.Run("SIGTERM lets a request in flight finish, then exits 0", func(t *testing.T) {
		t.Parallel()
		origin := newHeldOrigin(t)
		p := startProc(t, bin, "--origin", origin.URL)
		answered := make(chan string, 1)
		go func() { answered <- p.get("/held") }()
		<-origin.arrived
		stopping := p.logged(`msg="shutting down"`)
		p.signal(t, syscall.SIGTERM)
		<-stopping
		origin.Release()
		if got, want := <-answered, `200 "finished"`; got != want {
			t.Errorf("request in flight at SIGTERM got %s, want %s", got, want)
		}
		if code, _ := p.exit(t, 10*time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0", code)
		}
	})

	t.Run("SIGTERM with a request longer than the grace exits 0 after the grace", func(t *testing.T) {
		t.Parallel()
		origin := newHeldOrigin(t)
		const grace = 500 * time.Millisecond
		p := startProc(t, bin, "--origin", origin.URL, "--shutdown-grace", grace.String())
		answered := make(chan string, 1)
		go func() { answered <- p.get("/held") }()
		<-origin.arrived
		p.signal(t, syscall.SIGTERM)
		code, took := p.exit(t, 10*time.Second)
		if code != 0 {
			t.Errorf("exit status %d after the grace ran out, want 0", code)
		}
		if took < grace || took > grace+3*time.Second {
			t.Errorf("exited %v after SIGTERM, want just after the %v grace", took, grace)
		}
		if got := <-answered; !strings.Contains(got, "error") && !strings.Contains(got, "cut") {
			t.Errorf("request still running after the grace got %s, want its connection cut", got)
		}
		if !strings.Contains(p.log(), "shutdown grace ran out") {
			t.Errorf("no warning that requests were cut in the log")
		}
	})

	t.Run("a second SIGTERM exits at once", func(t *testing.T) {
		t.Parallel()
		origin := newHeldOrigin(t)
		p := startProc(t, bin, "--origin", origin.URL, "--shutdown-grace", "1m")
		go p.get("/held")
		<-origin.arrived
		stopping := p.logged(`msg="shutting down"`)
		p.signal(t, syscall.SIGTERM)
		<-stopping
		p.signal(t, syscall.SIGTERM)
		code, took := p.exit(t, 10*time.Second)
		if code != 1 {
			t.Errorf("exit status %d after a second SIGTERM, want 1", code)
		}
		if took > 5*time.Second {
			t.Errorf("exited %v after the second SIGTERM, want at once (the grace is 1m)", took)
		}
		if !strings.Contains(p.log(), "second stop signal") {
			t.Errorf("the log does not say why it exited at once")
		}
	})

	t.Run("SIGHUP leaves it serving", func(t *testing.T) {
		t.Parallel()
		origin := newHeldOrigin(t)
		p := startProc(t, bin, "--origin", origin.URL)
		warned := p.logged("reloading the configuration is not supported yet")
		p.signal(t, syscall.SIGHUP)
		select {
		case <-warned:
		case <-p.exited:
			t.Fatalf("SIGHUP stopped hoard: %v", p.err)
		case <-time.After(10 * time.Second):
			t.Fatal("no log line for SIGHUP within 10s")
		}
		if got, want := p.get("/after-hup"), `200 "finished"`; got != want {
			t.Errorf("request after SIGHUP got %s, want %s", got, want)
		}
		p.signal(t, syscall.SIGINT)
		if code, _ := p.exit(t, 10*time.Second); code != 0 {
			t.Errorf("exit status %d after SIGINT, want 0", code)
		}
	})
}
