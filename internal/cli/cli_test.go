package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard/internal/config"
)

// syncBuffer is a bytes.Buffer safe to write from a server's goroutines
// while a test reads it, and able to tell when some text has been written.
type syncBuffer struct {
	mu       sync.Mutex // guards b and watchers
	b        bytes.Buffer
	watchers map[string]chan struct{} // closed once the buffer contains the key
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	s.notify()
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// written returns a channel that is closed once the buffer contains text.
func (s *syncBuffer) written(text string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchers == nil {
		s.watchers = map[string]chan struct{}{}
	}
	if _, ok := s.watchers[text]; !ok {
		s.watchers[text] = make(chan struct{})
	}
	ch := s.watchers[text]
	s.notify()
	return ch
}

// notify closes the channels of the watched texts now present. s.mu is held.
func (s *syncBuffer) notify() {
	for text, ch := range s.watchers {
		if bytes.Contains(s.b.Bytes(), []byte(text)) {
			close(ch)
			delete(s.watchers, text)
		}
	}
}

// invocation is one run of the command line under test.
type invocation struct {
	args   []string
	env    map[string]string
	stdin  *os.File // nil means a reader over input, which is not a terminal
	input  string
	ready  func(addr string)
	stdout syncBuffer
	stderr syncBuffer
	// procs is what the command set GOMAXPROCS to; 0 means it left it
	// alone. The test binary's own setting is never changed.
	procs int
}

func (in *invocation) run(ctx context.Context) int {
	p := process{
		stdin:  strings.NewReader(in.input),
		stdout: &in.stdout,
		stderr: &in.stderr,
		lookupEnv: func(name string) (string, bool) {
			v, ok := in.env[name]
			return v, ok
		},
		environ: func() []string {
			var environ []string
			for name, value := range in.env {
				environ = append(environ, name+"="+value)
			}
			return environ
		},
		ready: in.ready,
		maxProcs: func(n int) int {
			previous := in.procs
			if previous == 0 {
				previous = runtime.GOMAXPROCS(0)
			}
			if n > 0 {
				in.procs = n
			}
			return previous
		},
	}
	if in.stdin != nil {
		p.stdin = in.stdin
	}
	return run(ctx, p, in.args)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // part of standard error
	}{
		{"unknown command", []string{"frobnicate"}, nil, `hoard: unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--bogus"}, nil, "hoard serve: flag provided but not defined: -bogus"},
		{"flag without value", []string{"serve", "--origin"}, nil, "flag needs an argument: -origin"},
		{"bad size names the flag", []string{"serve", "--demo", "--max-memory", "lots"}, nil,
			`hoard serve: --max-memory "lots": want a whole number`},
		{"bad env names the variable", []string{"serve", "--demo"}, map[string]string{"HOARD_MAX_MEMORY": "abc"},
			`hoard serve: HOARD_MAX_MEMORY "abc": want a whole number`},
		{"bad origin", []string{"serve", "--origin", "ftp://x"}, nil,
			`hoard serve: --origin "ftp://x": scheme must be http or https`},
		{"no origin", []string{"serve"}, nil, "hoard serve: --origin is required"},
		{"demo with origin", []string{"serve", "--demo", "--origin", "http://o"}, nil,
			`hoard serve: --origin "http://o": not allowed with --demo`},
		{"each problem on its own line", []string{"serve", "--origin=http://o", "--max-memory=1MiB", "--heuristic-max=0s"}, nil,
			"hoard serve: --max-object-size \"16MiB\": must not exceed --max-memory 1MiB\n" +
				"hoard serve: --heuristic-max \"0s\": must be positive\nRun 'hoard help' for usage.\n"},
		{"negative cpus names the flag", []string{"serve", "--demo", "--cpus=-1"}, nil,
			`hoard serve: --cpus "-1": must not be negative`},
		{"absurd cpus names the flag", []string{"serve", "--demo", "--cpus", "9999"}, nil,
			`hoard serve: --cpus "9999": must be at most 4096`},
		{"bad cpus env names the variable", []string{"serve", "--demo"}, map[string]string{"HOARD_CPUS": "many"},
			`hoard serve: HOARD_CPUS "many": want a whole number`},
		{"port past 65535", []string{"serve", "--demo", "--listen", ":99999"}, nil,
			`hoard serve: --listen ":99999": port 99999 is out of range; want a port from 0 to 65535, like 127.0.0.1:8080 or :8080`},
		{"admin API on the proxy's address", []string{"serve", "--demo", "--listen", "127.0.0.1:8080", "--admin-listen", "127.0.0.1:8080"}, nil,
			`hoard serve: --admin-listen "127.0.0.1:8080": the same address as --listen 127.0.0.1:8080; give the admin API an address of its own, like 127.0.0.1:9080`},
		{"origin without a scheme", []string{"serve", "--origin", "localhost:3000"}, nil,
			`hoard serve: --origin "localhost:3000": want a URL with a scheme; did you mean http://localhost:3000?`},
		{"bad store hides its password", []string{"serve", "--demo", "--store", "redis://:hunter2@[::1/0"}, nil,
			`hoard serve: --store "redis://***@[::1/0": want redis://HOST:PORT/DB`},
		{"bad grace names its variable", []string{"serve", "--demo"}, map[string]string{"HOARD_SHUTDOWN_GRACE": "soon"},
			`hoard serve: HOARD_SHUTDOWN_GRACE "soon": want a number with a unit, like 500ms, 30s, 5m or 24h`},
		{"negative grace", []string{"serve", "--demo", "--shutdown-grace=-1s"}, nil,
			`hoard serve: --shutdown-grace "-1s": must not be negative (0s: cut requests at once)`},
		{"misspelt variable is named beside the error it causes", []string{"serve"}, map[string]string{"HOARD_ORIGN": "http://o"},
			"hoard serve: warning: HOARD_ORIGN names no setting of Hoard; it is ignored\nhoard serve: --origin is required"},
		{"stray argument to serve", []string{"serve", "--demo", "extra"}, nil, `hoard serve: unexpected argument "extra"`},
		{"stray argument to version", []string{"version", "--short"}, nil, `hoard version: unexpected argument "--short"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &invocation{args: tt.args, env: tt.env}
			if code := in.run(t.Context()); code != 2 {
				t.Errorf("hoard %q exit %d, want 2", tt.args, code)
			}
			if !strings.Contains(in.stderr.String(), tt.want) {
				t.Errorf("hoard %q stderr:\n%s\nwant it to contain %q", tt.args, in.stderr.String(), tt.want)
			}
			if in.stdout.String() != "" {
				t.Errorf("hoard %q wrote to stdout: %q", tt.args, in.stdout.String())
			}
			if in.procs != 0 {
				t.Errorf("hoard %q set GOMAXPROCS to %d before failing, want it left alone", tt.args, in.procs)
			}
		})
	}
}

// TestVersion changes the package's version variable, so it does not run in
// parallel with other tests.
func TestVersion(t *testing.T) {
	in := &invocation{args: []string{"version"}}
	if code := in.run(t.Context()); code != 0 {
		t.Fatalf("hoard version exit %d, stderr %q", code, in.stderr.String())
	}
	// go test records no VCS information in its binary: "unknown".
	if got := in.stdout.String(); !regexp.MustCompile(`^hoard \S+, commit (unknown|[0-9a-f]{40}( \(modified\))?)\n$`).MatchString(got) {
		t.Errorf("hoard version = %q, want hoard, a version and a commit on one line", got)
	}
	for _, flag := range []string{"--version", "-version"} {
		again := &invocation{args: []string{flag}}
		if code := again.run(t.Context()); code != 0 || again.stdout.String() != in.stdout.String() {
			t.Errorf("hoard %s exit %d, %q; want 0 and what hoard version prints, %q", flag, code, again.stdout.String(), in.stdout.String())
		}
	}

	defer func(old string) { version = old }(version)
	version = "v1.2.3"
	in = &invocation{args: []string{"version"}}
	in.run(t.Context())
	if got := in.stdout.String(); !strings.HasPrefix(got, "hoard v1.2.3, commit ") {
		t.Errorf("hoard version built with -X ...cli.version=v1.2.3 = %q, want it to start %q", got, "hoard v1.2.3, commit ")
	}
}

func TestBuildCommit(t *testing.T) {
	t.Parallel()
	info := func(settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Settings: settings}, true }
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "21414fc0d6b6fa7f1c4fd0cbb8a1e0b4f2d1c3a9"}
	tests := []struct {
		name string
		read func() (*debug.BuildInfo, bool)
		want string
	}{
		{"no build information", func() (*debug.BuildInfo, bool) { return nil, false }, "unknown"},
		{"built without VCS stamping", info(), "unknown"},
		{"built from a clean checkout", info(rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), rev.Value},
		{"built with uncommitted changes", info(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), rev.Value + " (modified)"},
	}
	for _, tt := range tests {
		if got := buildCommit(tt.read); got != tt.want {
			t.Errorf("%s: buildCommit() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	config.RegisterFlags(fs)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"serve", "-h"}, {"serve", "--help"}} {
		in := &invocation{args: args}
		if code := in.run(t.Context()); code != 0 {
			t.Errorf("hoard %q exit %d, want 0; stderr %q", args, code, in.stderr.String())
		}
		help := in.stdout.String()
		fs.VisitAll(func(f *flag.Flag) {
			env := "$HOARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			if !strings.Contains(help, "--"+f.Name+" ") && !strings.Contains(help, "--"+f.Name+"\n") {
				t.Errorf("hoard %q does not list --%s:\n%s", args, f.Name, help)
			}
			if !strings.Contains(help, env) {
				t.Errorf("hoard %q does not name %s:\n%s", args, env, help)
			}
		})
	}
}

func TestNoArguments(t *testing.T) {
	t.Parallel()
	initLine := `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n"
	wantReply := `{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":0}}` + "\n"
	t.Run("not a terminal runs the node", func(t *testing.T) {
		t.Parallel()
		in := &invocation{input: initLine}
		if code := in.run(t.Context()); code != 0 {
			t.Errorf("hoard with piped stdin exit %d, want 0; stderr %q", code, in.stderr.String())
		}
		if got := in.stdout.String(); got != wantReply {
			t.Errorf("hoard with piped stdin wrote %q, want %q", got, wantReply)
		}
	})
	t.Run("node subcommand runs the node", func(t *testing.T) {
		t.Parallel()
		in := &invocation{args: []string{"node"}, input: initLine}
		if code := in.run(t.Context()); code != 0 || in.stdout.String() != wantReply {
			t.Errorf("hoard node exit %d, stdout %q; want 0 and %q", code, in.stdout.String(), wantReply)
		}
	})
	t.Run("node rejects a bad origin", func(t *testing.T) {
		t.Parallel()
		in := &invocation{args: []string{"node", "--origin", "ftp://x"}}
		if code := in.run(t.Context()); code != 2 || !strings.Contains(in.stderr.String(), "--origin") {
			t.Errorf("hoard node --origin ftp://x exit %d, stderr %q; want 2 naming --origin", code, in.stderr.String())
		}
	})
	t.Run("terminal prints help", func(t *testing.T) {
		t.Parallel()
		// The null device is a character device, which is all isTerminal
		// looks at; a real terminal is not available under go test.
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { null.Close() })
		if !isTerminal(null) {
			t.Skipf("%s is not a character device here", os.DevNull)
		}
		in := &invocation{stdin: null}
		if code := in.run(t.Context()); code != 0 {
			t.Errorf("hoard on a terminal exit %d, want 0", code)
		}
		if !strings.Contains(in.stdout.String(), "hoard serve [flags]") {
			t.Errorf("hoard on a terminal printed %q, want the help", in.stdout.String())
		}
	})
}
