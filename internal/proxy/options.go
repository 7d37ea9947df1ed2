package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/hoard-cache/hoard/internal/accesslog"
	"github.com/hoard-cache/hoard/internal/metrics"
	"github.com/hoard-cache/hoard/internal/store"
)

// Options configures a Handler. The zero value of each field is documented
// and, except for Origin and Store, sensible.
type Options struct {
	// Origin is the base URL requests are forwarded to (scheme and host; a
	// path is prefixed to every request's path). Required.
	Origin *url.URL
	// Transport carries requests to the origin. Nil means package origin's
	// own connections (origin.Options.Transport); backoff applies either
	// way.
	Transport http.RoundTripper
	// Store keeps cached responses. Required.
	Store store.Store
	// MaxObjectSize is the largest body, in bytes, that is stored; larger
	// responses pass through uncached. Zero means 16 MiB.
	MaxObjectSize int64
	// HeuristicMax caps heuristic freshness (RFC 9111 §4.2.2). Zero means 24h.
	HeuristicMax time.Duration
	// StaleIfError is how long past its freshness a stored response may be
	// served when the origin is unreachable or answers 5xx, for responses
	// that do not carry their own stale-if-error (RFC 5861 §4). Zero means
	// never, unless the response or request allows it.
	StaleIfError time.Duration
	// ConnectTimeout bounds opening a connection to the origin. Zero means
	// 5s.
	ConnectTimeout time.Duration
	// IdleConnTimeout is how long an idle keep-alive connection to the
	// origin is kept. Zero means 90s.
	IdleConnTimeout time.Duration
	// MaxOriginConns bounds the connections open to the origin at once;
	// requests beyond it wait for one. Zero means no bound.
	MaxOriginConns int
	// MaxBackoff is the longest pause after the origin refuses
	// connections: requests in the pause fail at once (or are served stale
	// where allowed) instead of dialling again. The pause starts at 100ms
	// and doubles while refusals go on. Zero means 5s; negative turns
	// backoff off.
	MaxBackoff time.Duration
	// OriginTimeout bounds a whole origin exchange up to the end of the
	// response header. Zero means 30s.
	OriginTimeout time.Duration
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
	// Logger receives per-request debug lines and warnings. Nil discards.
	Logger *slog.Logger
	// PurgeAllow lists the client networks allowed to send PURGE. Nil
	// means loopback only (127.0.0.0/8 and ::1).
	PurgeAllow []netip.Prefix
	// TrustedProxies lists the networks of the proxies in front of Hoard
	// (a load balancer, a TLS terminator) whose forwarding fields it
	// believes: from them, Forwarded, X-Forwarded-For, X-Forwarded-Proto
	// and X-Forwarded-Host are kept and extended. From any other peer,
	// Forwarded, every X-Forwarded-* field and X-Real-IP are dropped and
	// replaced by Hoard's own. Nil trusts no one.
	TrustedProxies []netip.Prefix
	// Name is the cache's name in Cache-Status and Via. Empty means "hoard".
	Name string
	// Metrics counts requests, origin exchanges and purges. Nil counts
	// nothing.
	Metrics *metrics.Metrics
	// TopURLs counts the paths of client requests, and of misses, for the
	// admin dashboard. Nil counts none.
	TopURLs *metrics.TopURLs
	// AccessLog gets a line for every client request. Nil logs none.
	AccessLog *accesslog.Log
}

func (o *Options) setDefaults() {
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = 16 << 20
	}
	if o.HeuristicMax == 0 {
		o.HeuristicMax = 24 * time.Hour
	}
	// ConnectTimeout, IdleConnTimeout and MaxBackoff pass to
	// origin.Options as they are: its zero values mean the same defaults.
	if o.OriginTimeout == 0 {
		o.OriginTimeout = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PurgeAllow == nil {
		o.PurgeAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if o.Name == "" {
		o.Name = "hoard"
	}
}

func (o *Options) validate() error {
	if o.Origin == nil {
		return errors.New("proxy: Options.Origin is required")
	}
	if o.Origin.Scheme != "http" && o.Origin.Scheme != "https" {
		return fmt.Errorf("proxy: Options.Origin %q: scheme must be http or https", o.Origin)
	}
	if o.Origin.Host == "" {
		return fmt.Errorf("proxy: Options.Origin %q: no host", o.Origin)
	}
	if o.Store == nil {
		return errors.New("proxy: Options.Store is required")
	}
	if o.MaxObjectSize < 0 {
		return fmt.Errorf("proxy: Options.MaxObjectSize %d is negative", o.MaxObjectSize)
	}
	if o.HeuristicMax < 0 {
		return fmt.Errorf("proxy: Options.HeuristicMax %s is negative", o.HeuristicMax)
	}
	if o.StaleIfError < 0 {
		return fmt.Errorf("proxy: Options.StaleIfError %s is negative", o.StaleIfError)
	}
	if o.ConnectTimeout < 0 {
		return fmt.Errorf("proxy: Options.ConnectTimeout %s is negative", o.ConnectTimeout)
	}
	if o.IdleConnTimeout < 0 {
		return fmt.Errorf("proxy: Options.IdleConnTimeout %s is negative", o.IdleConnTimeout)
	}
	if o.MaxOriginConns < 0 {
		return fmt.Errorf("proxy: Options.MaxOriginConns %d is negative", o.MaxOriginConns)
	}
	if o.OriginTimeout < 0 {
		return fmt.Errorf("proxy: Options.OriginTimeout %s is negative", o.OriginTimeout)
	}
	return nil
}
