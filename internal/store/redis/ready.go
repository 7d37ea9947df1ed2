package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrMisconfigured is wrapped by the errors of Ready that waiting will not
// mend: Redis refused the credentials or the database number, or the host
// name does not exist. A Redis that is down or unreachable is not
// misconfigured: it may come back.
var ErrMisconfigured = errors.New("redis store: the server refuses the configuration")

// Ready reports whether Redis answers a PING on a connection set up as
// configured (password, database): nil if it does. Otherwise the error
// says why, and wraps ErrMisconfigured when retrying cannot help.
func (s *Store) Ready(ctx context.Context) error {
	err := s.rdb.Ping(ctx).Err()
	if err == nil {
		return nil
	}
	if why := misconfigured(err); why != "" {
		return &refusal{why: why, err: err}
	}
	return fmt.Errorf("redis store: unreachable: %w", err)
}

// refusal is an error of Ready that wraps ErrMisconfigured, without
// repeating its text.
type refusal struct {
	why string // what went wrong, in a few words
	err error  // go-redis's error
}

func (r *refusal) Error() string   { return "redis store: " + r.why + ": " + r.err.Error() }
func (r *refusal) Unwrap() []error { return []error{ErrMisconfigured, r.err} }

// misconfigured says how err shows a configuration Redis will never accept,
// or "" if it does not. A server's error replies carry no code but their
// first word, so that is what is read: go-redis does the same for the
// errors it names (IsAuthError).
func misconfigured(err error) string {
	var dns *net.DNSError
	var reply redis.Error
	switch {
	case redis.IsAuthError(err):
		return "authentication failed"
	case redis.IsPermissionError(err):
		return "the user may not run Hoard's commands"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "unknown host " + dns.Name
	case errors.As(err, &reply) && strings.HasPrefix(reply.Error(), "ERR "):
		// To the connection's set-up (AUTH, SELECT) or a PING: "ERR DB
		// index is out of range", "ERR invalid password", and the like.
		// Passing states (LOADING, BUSY, MASTERDOWN) have other words.
		return "refused"
	}
	return ""
}
