package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"

	"github.com/hoard-cache/hoard/internal/config"
	"github.com/hoard-cache/hoard/internal/node"
)

// runNode runs the JSON message protocol over stdin and stdout: what hoard
// does when started with no arguments and a stdin that is not a terminal, and
// what "hoard node" does. Replies go to stdout only; diagnostics to stderr.
func runNode(ctx context.Context, p process, args []string) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	origin := fs.String("origin", "", "`URL` of a real origin to use instead of the scripted one")
	maxMemory := fs.String("max-memory", "64MiB", "`size` of the node's memory cache")
	logLevel := fs.String("log-level", "warn", "`level` of diagnostics on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(p.stdout, "Usage: hoard node [flags]\n\nFlags:\n")
			printFlags(p.stdout, fs)
			return 0
		}
		return usageError(p.stderr, "hoard node", err)
	}
	if fs.NArg() > 0 {
		return usageError(p.stderr, "hoard node", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	opts := node.Options{}
	if *origin != "" {
		u, err := url.Parse(*origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(p.stderr, "hoard node", fmt.Errorf("--origin %q: want an http or https URL with a host", *origin))
		}
		opts.Origin = u
	}
	size, err := config.ParseSize(*maxMemory)
	if err != nil || size <= 0 {
		return usageError(p.stderr, "hoard node", fmt.Errorf("--max-memory %q: want a positive size such as 64MiB", *maxMemory))
	}
	opts.MaxMemory = size
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError(p.stderr, "hoard node", fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel))
	}
	opts.Logger = slog.New(slog.NewTextHandler(p.stderr, &slog.HandlerOptions{Level: level}))
	n, err := node.New(opts)
	if err != nil {
		fmt.Fprintf(p.stderr, "hoard node: %v\n", err)
		return 1
	}
	if err := n.Run(ctx, p.stdin, p.stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(p.stderr, "hoard node: %v\n", err)
		return 1
	}
	return 0
}
