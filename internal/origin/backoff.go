package origin

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

// errBackoff is returned, without dialling, while the origin is in a
// backoff pause.
var errBackoff = errors.New("origin refused connections; backing off")

// backoff stops dialling an origin that refuses connections: after a
// refusal, requests fail at once for a pause that starts at firstBackoff
// and doubles, up to max, while refusals go on. One success ends it. A
// down origin then costs clients no dial each, and a restarting origin is
// not hammered. Each backend has its own.
type backoff struct {
	max   time.Duration
	clock func() time.Time
	log   *slog.Logger

	mu    sync.Mutex    // guards until, pause
	until time.Time     // no dialling before this
	pause time.Duration // the current pause; 0 when the origin is healthy
}

// admit returns errBackoff, wrapped, while a pause lasts, and closes r's
// body then (a RoundTripper must close the body, even on error).
func (b *backoff) admit(r *http.Request) error {
	b.mu.Lock()
	until := b.until
	b.mu.Unlock()
	if now := b.clock(); now.Before(until) {
		if r.Body != nil {
			r.Body.Close()
		}
		return fmt.Errorf("%w (for %s more)", errBackoff, until.Sub(now).Round(time.Millisecond))
	}
	return nil
}

// record learns from the outcome of an exchange admitted: a success ends
// a pause, a refused connection starts or lengthens one.
func (b *backoff) record(err error) {
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
}
