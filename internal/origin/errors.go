package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// ErrTimeout is the cause a caller gives when it cancels an exchange's
// context because the origin took too long (context.WithCancelCause): the
// Client then reports the failure as a Timeout, whatever error the
// cancellation surfaced as.
var ErrTimeout = errors.New("origin did not answer in time")

// Kind is what went wrong in a failed origin exchange.
type Kind int

const (
	// Unreachable: no connection, a refused or broken one, a dial in a
	// backoff pause, a Client closed.
	Unreachable Kind = iota
	// Timeout: the origin did not answer in time (ErrTimeout, a context
	// deadline, a network timeout).
	Timeout
	// InvalidResponse: the origin answered something that is not an
	// HTTP/1.1 response to the request.
	InvalidResponse
)

func (k Kind) String() string {
	switch k {
	case Timeout:
		return "timeout"
	case InvalidResponse:
		return "invalid response"
	}
	return "unreachable"
}

// Error is a failed origin exchange: every error a Client's RoundTrip
// returns is one. Callers branch on Kind, with errors.As, never on the text.
type Error struct {
	Kind Kind
	Err  error // what failed, as the connection or the parser reported it
}

func (e *Error) Error() string { return "origin: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns the error for an answer that is not a valid response to
// the request although it parsed, such as a 304 to a request without
// conditions (RFC 9110 §15.4.5): its caller alone can tell.
func Invalid(err error) *Error {
	return &Error{Kind: InvalidResponse, Err: &invalidResponse{err}}
}

// newError classifies the error of a failed exchange of a request with
// context ctx. It is the one place a Kind is decided. A timeout wins over
// what the timeout surfaced as (a response cut short by the cancellation
// may look invalid).
func newError(ctx context.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ne net.Error
	var invalid *invalidResponse
	kind := Unreachable
	switch {
	case errors.Is(context.Cause(ctx), ErrTimeout),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		kind = Timeout
	case errors.As(err, &invalid):
		kind = InvalidResponse
	}
	return &Error{Kind: kind, Err: err}
}

// Reasons Hoard gives in Cache-Status detail (RFC 9211 §2.8) for a failed
// origin exchange.
const (
	ReasonTimeout     httpcache.Reason = "origin-timeout"
	ReasonUnreachable httpcache.Reason = "origin-unreachable"
	ReasonInvalid     httpcache.Reason = "origin-invalid-response"
)

// Failure is how Hoard answers a client whose origin exchange failed.
type Failure struct {
	Kind   Kind
	Status int              // 502 or 504
	Reason httpcache.Reason // the Cache-Status detail
	Text   string           // one short sentence for the client, without its full stop; never a Go error string
}

// Classify maps a failed origin exchange to Hoard's answer: 504 when the
// origin was too slow, 502 when it could not be reached or answered
// garbage. It is the one function that turns an origin error into a
// status. An error that is no *Error (a shared fetch abandoned by its
// leader, say) is taken as Unreachable.
func Classify(err error) Failure {
	var e *Error
	kind := Unreachable
	if errors.As(err, &e) {
		kind = e.Kind
	}
	switch kind {
	case Timeout:
		return Failure{Kind: kind, Status: http.StatusGatewayTimeout, Reason: ReasonTimeout, Text: "The origin server did not answer in time"}
	case InvalidResponse:
		return Failure{Kind: kind, Status: http.StatusBadGateway, Reason: ReasonInvalid, Text: "The origin server's answer was not valid HTTP"}
	}
	return Failure{Kind: Unreachable, Status: http.StatusBadGateway, Reason: ReasonUnreachable, Text: "Hoard could not reach the origin server"}
}

// invalidResponse is an origin answer that is not HTTP/1.1, as opposed to
// a connection that broke or timed out.
type invalidResponse struct{ err error }

func (e *invalidResponse) Error() string { return "invalid response: " + e.err.Error() }
func (e *invalidResponse) Unwrap() error { return e.err }

// invalidUnlessBroken marks an error from reading a response header as an
// invalid response, unless the connection ended, broke or was cut by a
// deadline.
func invalidUnlessBroken(err error) error {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) {
		return err
	}
	return &invalidResponse{err}
}

// validStatus reports whether code is a status code at all: three digits
// from 100 to 599 (RFC 9110 §15). Anything else is not an HTTP response,
// and in particular not an interim one.
func validStatus(code int) bool { return code >= 100 && code <= 599 }

// badStatus is the error for a response with a status code that is not one.
func badStatus(code int) error { return &invalidResponse{fmt.Errorf("status code %d", code)} }
