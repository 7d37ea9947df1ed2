// Package cli is Hoard's command line: it picks the subcommand, reads flags
// and HOARD_* environment variables through package config, builds the whole
// object graph (logger, store, proxy, servers) and owns the process's signals.
//
// It is the only package that reads flags or the environment, and the only
// one that knows every other package; it holds no caching logic of its own.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hoard-cache/hoard/internal/config"
)

// version is Hoard's version, set when building a release with
//
//	go build -ldflags "-X github.com/hoard-cache/hoard/internal/cli.version=v1.2.3"
//
// Empty means the module version recorded in the binary, or "devel".
var version string

// Main runs the command line args (without the program name) and returns
// the process's exit status: 0 on success, 1 when a command fails, 2 for a
// usage or configuration error. SIGINT and SIGTERM stop a running server
// gracefully, and a second one at once; SIGHUP does not stop it.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	// Every stop signal is also counted, for the second one; registered
	// now, so that none is missed before serve starts watching.
	stops := make(chan os.Signal, 2)
	signal.Notify(stops, stopSignals...)
	defer signal.Stop(stops)
	hangups, stopHangups := notifyHangup()
	defer stopHangups()
	return run(ctx, process{stdin: stdin, stdout: stdout, stderr: stderr,
		lookupEnv: os.LookupEnv, environ: os.Environ, maxProcs: runtime.GOMAXPROCS,
		stops: stops, hangups: hangups, exit: os.Exit}, args)
}

// process is what a command gets from the process running it; tests fill it
// with buffers and a fake environment.
type process struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	environ        func() []string // os.Environ; nil means an empty environment
	// maxProcs is runtime.GOMAXPROCS: it sets the number of threads
	// running Go code at once when n > 0, and returns the previous number.
	// Tests replace it so that serve does not change the test binary's own.
	maxProcs func(n int) int
	// ready, if not nil, is called with the proxy's address once serve is
	// accepting connections: the hook tests use to find a server on port 0.
	ready func(addr string)
	// stops receives every stop signal (the first has also canceled the
	// context), hangups every SIGHUP; exit ends the process at once. Nil
	// in tests, which stop serve by canceling its context.
	stops, hangups <-chan os.Signal
	exit           func(code int)
}

// run is Main with the context and the process's surroundings passed in.
func run(ctx context.Context, p process, args []string) int {
	if len(args) == 0 {
		if isTerminal(p.stdin) {
			printHelp(p.stdout)
			return 0
		}
		// Not a terminal: another program is talking to us on stdin.
		return runNode(ctx, p, nil)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, p, rest)
	case "node":
		return runNode(ctx, p, rest)
	case "explain":
		return runExplain(ctx, p, rest)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			return usageError(p.stderr, "hoard "+cmd, fmt.Errorf("unexpected argument %q", rest[0]))
		}
		fmt.Fprintf(p.stdout, "hoard %s, commit %s\n", currentVersion(), buildCommit(debug.ReadBuildInfo))
		return 0
	case "help", "-h", "-help", "--help":
		printHelp(p.stdout)
		return 0
	default:
		return usageError(p.stderr, "hoard", fmt.Errorf("unknown command %q", cmd))
	}
}

// isTerminal reports whether r is a character device such as a terminal.
// Anything that is not an *os.File (a pipe handed over by a test, say) is not.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// currentVersion is version, else the module version recorded by the Go
// toolchain, else "devel".
func currentVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

// buildCommit is the version control commit the binary was built from, as
// the Go toolchain records it (go build in a git checkout), with
// "(modified)" when the tree had uncommitted changes; "unknown" when
// nothing was recorded (a build outside a checkout, or -buildvcs=false).
// read is debug.ReadBuildInfo.
func buildCommit(read func() (*debug.BuildInfo, bool)) string {
	info, ok := read()
	if !ok {
		return "unknown"
	}
	commit, modified := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && commit != "unknown" {
		commit += " (modified)"
	}
	return commit
}

// usageError reports a usage or configuration error, one line per problem,
// and returns exit status 2.
func usageError(stderr io.Writer, prefix string, err error) int {
	configFailed(stderr, prefix, err)
	fmt.Fprintln(stderr, "Run 'hoard help' for usage.")
	return 2
}

// configFailed reports a configuration error, one line per problem, and
// returns exit status 2.
func configFailed(stderr io.Writer, prefix string, err error) int {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, line)
	}
	return 2
}

const helpText = `Hoard is an HTTP caching reverse proxy (RFC 9111).

Usage:
  hoard serve [flags]   run the proxy in front of an origin
  hoard explain URL     say why a running Hoard does (not) cache URL
  hoard version         print the version and the commit it was built from
  hoard help            print this help
  hoard node            speak Hoard's message protocol on stdin and stdout
  hoard                 "hoard help" on a terminal, "hoard node" otherwise

Try it without an origin of your own:
  hoard serve --demo

Flags of serve. Each may also be set by the environment variable in
brackets; a flag beats the environment, which beats the default.

`

func printHelp(w io.Writer) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config.RegisterFlags(fs)
	fmt.Fprint(w, helpText)
	printFlags(w, fs)
}

// printFlags lists fs's flags with two dashes, as they are usually written.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  --%s%s\n        %s", f.Name, name, usage)
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
