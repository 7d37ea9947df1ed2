//go:build linux

// Command soak runs mixed load against a built hoard serve for a few
// minutes while its origin misbehaves, checks every body a client
// receives, and prints what it counted. bench/soak.sh builds it and Hoard
// and runs it; bench/README.md describes the figures.
//
// The same binary is the origin (with -origin-listen): the driver starts
// it as a child process so that it can kill, restart and pause it. All
// traffic stays on 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	originListen := flag.String("origin-listen", "", "run as the soak's origin on this address (the driver does this)")
	hoardBin := flag.String("hoard", "", "the hoard binary to soak (required)")
	duration := flag.Duration("duration", 3*time.Minute, "how long the load runs")
	dir := flag.String("dir", "", "directory for the logs of Hoard and the origin (default: a new temporary one)")
	clients := flag.Int("clients", 6, "clients sending GETs one after another")
	flag.Parse()
	if *originListen != "" {
		if err := runOrigin(*originListen); err != nil {
			fmt.Fprintln(os.Stderr, "soak origin:", err)
			os.Exit(1)
		}
		return
	}
	if *hoardBin == "" || *duration <= 0 || *clients < 1 {
		fmt.Fprintln(os.Stderr, "usage: soak -hoard PATH [-duration 3m] [-dir DIR] [-clients 6]")
		os.Exit(2)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "hoard-soak-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		*dir = d
	}
	os.Exit(drive(*hoardBin, *duration, *dir, *clients))
}

// drive runs the soak and returns the exit status: 0 when every must-be-0
// figure is 0, 1 otherwise or on trouble.
func drive(hoardBin string, duration time.Duration, dir string, clients int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ports, err := freePorts(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 1
	}
	originAddr, hoardAddr, adminAddr := ports[0], ports[1], ports[2]

	origin := &child{name: "origin", log: filepath.Join(dir, "origin.log"),
		args: []string{selfPath(), "-origin-listen", originAddr}}
	hoard := &child{name: "hoard", log: filepath.Join(dir, "hoard.log"), args: []string{hoardBin, "serve",
		"--listen", hoardAddr, "--admin-listen", adminAddr, "--origin", "http://" + originAddr,
		"--origin-timeout", "2s", "--stale-if-error", hoardStaleIfError.String(), "--max-memory", "256MiB",
		"--origin-max-backoff", "1s", "--log-level", "warn"}}
	defer origin.kill()
	defer hoard.kill()
	// The soak stops by itself: should anything hang, this ends it.
	watchdog := time.AfterFunc(duration+2*time.Minute, func() {
		fmt.Fprintln(os.Stderr, "soak: still running long after its duration; giving up")
		origin.kill()
		hoard.kill()
		os.Exit(3)
	})
	defer watchdog.Stop()

	for _, c := range []*child{origin, hoard} {
		if err := c.start(); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 1
		}
	}
	if err := waitListening(ctx, originAddr); err != nil {
		fmt.Fprintln(os.Stderr, "soak: origin:", err)
		return 1
	}
	if err := waitListening(ctx, hoardAddr); err != nil {
		fmt.Fprintln(os.Stderr, "soak: hoard:", err, "(see", hoard.log+")")
		return 1
	}
	admin := &http.Client{Timeout: 10 * time.Second}
	startGoroutines, startRSS := goroutines(admin, adminAddr), rssKiB(hoard.pid())
	fmt.Printf("soak: %s of load on hoard (pid %d) at %s; origin at %s; logs in %s\n",
		duration, hoard.pid(), hoardAddr, originAddr, dir)

	f := &figures{}
	l := newLoad(hoardAddr, &checker{f: f, fresh: newFreshness()})
	loadCtx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var wg sync.WaitGroup
	seed := uint64(time.Now().UnixNano())
	run := func(n int, client func(context.Context, *rand.Rand)) {
		for range n {
			seed++
			r := rand.New(rand.NewPCG(seed, seed*31))
			wg.Go(func() { client(loadCtx, r) })
		}
	}
	run(clients, l.plain)
	run(1, l.ranges)
	run(2, l.slowReader)
	run(2, l.vanisher)
	run(1, l.purger)
	var kills, pauses int
	wg.Go(func() { kills, pauses = chaos(loadCtx, origin) })
	wg.Wait()
	l.client.CloseIdleConnections()

	hoardAlive := hoard.alive()
	endGoroutines := settledGoroutines(admin, adminAddr, 15*time.Second)
	endRSS := rssKiB(hoard.pid())

	report(f, duration, kills, pauses, startGoroutines, endGoroutines, startRSS, endRSS)
	switch {
	case ctx.Err() != nil:
		fmt.Println("soak: interrupted")
		return 1
	case !hoardAlive:
		fmt.Println("soak: FAIL: hoard exited during the run; see", hoard.log)
		return 1
	case f.requests.Load() == 0:
		fmt.Println("soak: FAIL: no request was answered")
		return 1
	case f.wrongBodies.Load()+f.truncatedComplete.Load()+f.staleMissed.Load() > 0:
		fmt.Println("soak: FAIL: a must-be-0 figure is not 0")
		return 1
	}
	fmt.Println("soak: PASS")
	return 0
}

// chaos kills and restarts the origin, or pauses it, every 8 to 20
// seconds, until ctx ends; it leaves the origin running.
func chaos(ctx context.Context, origin *child) (kills, pauses int) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for {
		pause(ctx, time.Duration(8+r.IntN(12))*time.Second)
		if ctx.Err() != nil {
			return kills, pauses
		}
		if r.IntN(2) == 0 {
			kills++
			origin.kill()
			pause(ctx, time.Duration(1000+r.IntN(3000))*time.Millisecond)
			if err := origin.start(); err != nil {
				fmt.Fprintln(os.Stderr, "soak: restarting the origin:", err)
			}
		} else {
			pauses++
			origin.signal(syscall.SIGSTOP)
			pause(ctx, 3*time.Second)
			origin.signal(syscall.SIGCONT)
		}
	}
}

func report(f *figures, d time.Duration, kills, pauses, g0, g1 int, rss0, rss1 int64) {
	row := func(name string, v any) { fmt.Printf("  %-48s %v\n", name, v) }
	fmt.Printf("soak: %s; origin killed and restarted %d times, paused %d times\n", d, kills, pauses)
	row("requests checked", f.requests.Load())
	row("  200 / 206", fmt.Sprintf("%d / %d", f.ok.Load(), f.partial.Load()))
	row("  hits (Cache-Status hit)", f.hits.Load())
	row("  stale served (detail=stale-...)", f.stale.Load())
	row("  5xx", f.status5xx.Load())
	row("  other statuses", f.otherStatus.Load())
	row("  no response (connection failed)", f.transportErrors.Load())
	row("slow reads completed or cut", f.slowReads.Load())
	row("clients vanished mid-response", f.vanished.Load())
	row("PURGEs", f.purges.Load())
	row("truncated bodies, detected by the client", f.truncatedDetected.Load())
	row("wrong bodies (must be 0)", f.wrongBodies.Load())
	row("truncated bodies served as complete (must be 0)", f.truncatedComplete.Load())
	row("5xx with a usable stale entry (must be 0)", f.staleMissed.Load())
	row("goroutines at start / end", fmt.Sprintf("%d / %d", g0, g1))
	row("RSS at start / end", fmt.Sprintf("%.1f MiB / %.1f MiB", float64(rss0)/1024, float64(rss1)/1024))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.examples {
		fmt.Println("  !", e)
	}
}

// child is a process the driver starts, and may kill and start again.
type child struct {
	name string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd     // guarded by mu
	done chan struct{} // guarded by mu; closed once cmd has exited
}

func (c *child) start() error {
	out, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.args[0], c.args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	return nil
}

// kill ends the process at once (SIGKILL) and waits for it.
func (c *child) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

func (c *child) signal(s os.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(s)
	}
}

func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// alive reports whether the process still runs.
func (c *child) alive() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return done != nil
	}
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func waitListening(ctx context.Context, addr string) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); pause(ctx, 50*time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
	}
	return errors.New("not listening on " + addr + " after 20s")
}

func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return p
}

// goroutines reads the count of Hoard's goroutines from its admin API's
// goroutine profile ("goroutine profile: total N"); -1 if it cannot.
func goroutines(c *http.Client, admin string) int {
	resp, err := c.Get("http://" + admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	io.Copy(io.Discard, resp.Body)
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total")))
	if err != nil {
		return -1
	}
	return n
}

// settledGoroutines waits for the work under way to end (an origin hang
// lasts 3s), then until the goroutine count stops falling (or for at most
// max), and returns it.
func settledGoroutines(c *http.Client, admin string, max time.Duration) int {
	time.Sleep(originHang + time.Second)
	last := goroutines(c, admin)
	for deadline := time.Now().Add(max); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		n := goroutines(c, admin)
		if n >= last {
			return n
		}
		last = n
	}
	return last
}

// rssKiB reads VmRSS of pid, in KiB; -1 if it cannot.
func rssKiB(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
