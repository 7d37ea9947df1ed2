package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// firstBackoff is the first pause after the origin refuses a connection.
const firstBackoff = 100 * time.Millisecond

// errOriginBackoff is returned, without dialling, while the origin is in a
// backoff pause.
var errOriginBackoff = errors.New("origin refused connections; backing off")

// backoff is an http.RoundTripper that stops dialling an origin that
// refuses connections: after a refusal, requests fail at once for a pause
// that starts at firstBackoff and doubles, up to max, while refusals go on.
// One success ends it. A down origin then costs clients no dial each, and
// a restarting origin is not hammered.
type backoff struct {
	next  http.RoundTripper
	max   time.Duration
	clock func() time.Time
	log   *slog.Logger

	mu    sync.Mutex    // guards until, pause
	until time.Time     // no dialling before this
	pause time.Duration // the current pause; 0 when the origin is healthy
}

func (b *backoff) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	until := b.until
	b.mu.Unlock()
	if now := b.clock(); now.Before(until) {
		if r.Body != nil {
			r.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, fmt.Errorf("%w (for %s more)", errOriginBackoff, until.Sub(now).Round(time.Millisecond))
	}
	resp, err := b.next.RoundTrip(r)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		if b.pause > 0 {
			b.log.Info("origin accepts connections again")
		}
		b.pause = 0
	case errors.Is(err, syscall.ECONNREFUSED):
		b.pause = min(max(2*b.pause, firstBackoff), b.max)
		b.until = b.clock().Add(b.pause)
		b.log.Warn("origin refused a connection; backing off", "pause", b.pause)
	}
	return resp, err
}

// CloseIdleConnections passes through to the wrapped transport.
func (b *backoff) CloseIdleConnections() { closeIdleConns(b.next) }

// Close passes through to the wrapped transport, which closes its idle
// connections when it has no Close.
func (b *backoff) Close() {
	if c, ok := b.next.(interface{ Close() }); ok {
		c.Close()
		return
	}
	closeIdleConns(b.next)
}
