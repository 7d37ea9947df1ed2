package origin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Options configures a Client. The zero value of each field is documented
// and, except for URL, sensible.
type Options struct {
	// URL is the origin: its scheme (http or https) and host say where
	// requests go. Requests name their own URL; a request for another
	// host than URL's travels on the net/http Transport. Required.
	URL *url.URL
	// Transport, when set, carries every request in place of Hoard's own
	// connections (tests pass a function adapter). Backoff still applies
	// to it, and Close leaves it alone.
	Transport http.RoundTripper
	// ConnectTimeout bounds opening a connection. Zero means 5s.
	ConnectTimeout time.Duration
	// IdleConnTimeout is how long an idle keep-alive connection is kept.
	// Zero means 90s.
	IdleConnTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response header once a
	// request is written, on the net/http Transport's connections. Hoard's
	// own connections leave that to the request's context: a caller bounds
	// a whole exchange by cancelling it with ErrTimeout. Zero means 30s.
	ResponseHeaderTimeout time.Duration
	// MaxConns bounds the connections open to the origin at once, of both
	// pools (requests with a body included); requests beyond it wait for
	// one. Zero means no bound.
	MaxConns int
	// MaxBackoff is the longest pause after the origin refuses
	// connections: requests in the pause fail at once instead of dialling
	// again. The pause starts at 100ms and doubles while refusals go on.
	// Zero means 5s; negative turns backoff off.
	MaxBackoff time.Duration
	// Clock returns the current time, for the backoff pause. Nil means
	// time.Now.
	Clock func() time.Time
	// Logger receives the backoff's warnings. Nil discards.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.IdleConnTimeout == 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	if o.URL == nil {
		return errors.New("origin: Options.URL is required")
	}
	if o.URL.Scheme != "http" && o.URL.Scheme != "https" {
		return fmt.Errorf("origin: Options.URL %q: scheme must be http or https", o.URL)
	}
	if o.URL.Host == "" {
		return fmt.Errorf("origin: Options.URL %q: no host", o.URL)
	}
	if o.ConnectTimeout < 0 {
		return fmt.Errorf("origin: Options.ConnectTimeout %s is negative", o.ConnectTimeout)
	}
	if o.IdleConnTimeout < 0 {
		return fmt.Errorf("origin: Options.IdleConnTimeout %s is negative", o.IdleConnTimeout)
	}
	if o.ResponseHeaderTimeout < 0 {
		return fmt.Errorf("origin: Options.ResponseHeaderTimeout %s is negative", o.ResponseHeaderTimeout)
	}
	if o.MaxConns < 0 {
		return fmt.Errorf("origin: Options.MaxConns %d is negative", o.MaxConns)
	}
	return nil
}
