package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hoard-cache/hoard/internal/demo"
)

// startDemo serves the built-in sample origin on a loopback port and returns
// its URL, and a stop function that shuts it down, giving its requests
// grace to finish, and waits until it has.
func startDemo(logger *slog.Logger, grace time.Duration) (*url.URL, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("demo origin: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           demo.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("demo origin stopped", "err", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			logger.Warn("demo origin: cutting requests still running", "err", err)
			_ = srv.Close() // its error would repeat what Shutdown reported
		}
		<-done
	}
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, stop, nil
}

// printDemoUsage prints curl commands that show the demo at work through the
// proxy listening on addr.
func printDemoUsage(w io.Writer, addr string, origin *url.URL) {
	base := "http://" + dialable(addr)
	fmt.Fprintf(w, `Hoard is caching its built-in demo origin (%s).
Paste these and watch the Cache-Status header:

  # a miss, then a hit: the response number stays the same
  curl -si %[2]s/cached
  curl -si %[2]s/cached

  # no-store: never stored, every request reaches the origin
  curl -si %[2]s/no-store

  # Vary: Accept-Language: one stored variant per language
  curl -si -H 'Accept-Language: fr' %[2]s/vary
  curl -si -H 'Accept-Language: de' %[2]s/vary

  # no-cache with an ETag: stored, but revalidated with the origin each time
  curl -si %[2]s/etag

  # every demo path
  curl -s %[2]s/

`, origin, base)
}

// dialable turns a listening address into one a client on this machine can
// dial: a server listening on every interface (":8080", "[::]:8080") is
// reached at localhost.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr // a listener's address always splits; keep it as it is if not
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
