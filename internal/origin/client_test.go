package origin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/clocktest"
)

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestOptionsValidate: impossible options are refused, naming the field.
func TestOptionsValidate(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "origin.test"}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no URL", Options{}, "Options.URL is required"},
		{"scheme not http", Options{URL: &url.URL{Scheme: "ftp", Host: "h"}}, "Options.URL"},
		{"no host", Options{URL: &url.URL{Scheme: "http"}}, "no host"},
		{"negative ConnectTimeout", Options{URL: u, ConnectTimeout: -1}, "Options.ConnectTimeout"},
		{"negative IdleConnTimeout", Options{URL: u, IdleConnTimeout: -1}, "Options.IdleConnTimeout"},
		{"negative ResponseHeaderTimeout", Options{URL: u, ResponseHeaderTimeout: -1}, "Options.ResponseHeaderTimeout"},
		{"negative MaxConns", Options{URL: u, MaxConns: -1}, "Options.MaxConns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestClassify: each kind of failure gets its status and Cache-Status
// detail; an error that is no *Error is taken as unreachable.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"unreachable", &Error{Kind: Unreachable, Err: errors.New("refused")}, 502, "origin-unreachable"},
		{"timeout", &Error{Kind: Timeout, Err: ErrTimeout}, 504, "origin-timeout"},
		{"invalid", Invalid(errors.New("304 to a request without conditions")), 502, "origin-invalid-response"},
		{"wrapped", fmt.Errorf("fetch: %w", &Error{Kind: Timeout, Err: ErrTimeout}), 504, "origin-timeout"},
		{"not an *Error", context.DeadlineExceeded, 502, "origin-unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tc.err)
			if f.Status != tc.status || string(f.Reason) != tc.reason || f.Text == "" {
				t.Errorf("Classify(%v) = %+v, want %d %s", tc.err, f, tc.status, tc.reason)
			}
		})
	}
}

// TestRoundTripErrors: what the Client returns for each way an exchange
// fails over real sockets is an *Error of the right Kind.
func TestRoundTripErrors(t *testing.T) {
	refused := func(t *testing.T) *url.URL {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close() // bound, then closed: connections are refused
		return &url.URL{Scheme: "http", Host: ln.Addr().String()}
	}
	hanging := func(t *testing.T) *url.URL {
		stop := make(chan struct{})
		srv := newCountingOrigin(t, 0)
		srv.srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop })
		t.Cleanup(func() { close(stop) })
		return mustParse(t, srv.srv.URL)
	}
	for _, tc := range []struct {
		name   string
		origin func(t *testing.T) *url.URL
		ctx    func(ctx context.Context) (context.Context, func())
		kind   Kind
	}{
		{"connection refused", refused, nil, Unreachable},
		{"cancelled with ErrTimeout", hanging, func(ctx context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(ctx)
			timer := time.AfterFunc(50*time.Millisecond, func() { cancel(ErrTimeout) })
			return ctx, func() { timer.Stop(); cancel(nil) }
		}, Timeout},
		{"context deadline", hanging, func(ctx context.Context) (context.Context, func()) {
			return context.WithTimeout(ctx, 50*time.Millisecond)
		}, Timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.origin(t), func(o *Options) { o.MaxBackoff = -1 })
			ctx := t.Context()
			if tc.ctx != nil {
				var end func()
				ctx, end = tc.ctx(ctx)
				defer end()
			}
			_, _, err := fetch(ctx, c, http.MethodGet, "/e", nil)
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.kind {
				t.Fatalf("error %v, want an *Error of Kind %s", err, tc.kind)
			}
		})
	}
}

// TestOriginRestartBacksOff: an origin that refuses connections is not
// dialled again during the backoff pause; once it is back and the pause
// is over, requests reach it.
func TestOriginRestartBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the origin is down: connections are refused
	clock := clocktest.New(time.Now())
	c := newClient(t, &url.URL{Scheme: "http", Host: addr}, func(o *Options) {
		o.MaxBackoff = time.Second
		o.Clock = clock.Now
	})
	if _, _, err := fetch(t.Context(), c, http.MethodGet, "/r", nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("first GET: %v, want a refused connection", err)
	}

	// The origin comes back on the same address.
	var hits atomic.Int64
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "back")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// Still within the first pause (100ms): no dial, an immediate error.
	clock.Advance(50 * time.Millisecond)
	_, _, err = fetch(t.Context(), c, http.MethodGet, "/r", nil)
	if e := (*Error)(nil); !errors.As(err, &e) || e.Kind != Unreachable || !errors.Is(err, errBackoff) {
		t.Errorf("GET in the pause: %v, want an unreachable *Error for the backoff", err)
	}
	if hits.Load() != 0 {
		t.Errorf("origin dialled during the backoff pause")
	}
	clock.Advance(100 * time.Millisecond)
	get(t, c, "/r", "back")
	if hits.Load() != 1 {
		t.Errorf("origin requests after the pause = %d, want 1", hits.Load())
	}
}
