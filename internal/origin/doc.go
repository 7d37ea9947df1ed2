// Package origin is how Hoard talks to origin servers: a Client that is an
// http.RoundTripper, and Classify, which says how a failed exchange is
// answered. It knows nothing of caching: package proxy decides what to
// ask, and what to make of the answer.
//
// # What a Client holds
//
// A Client holds backends, one per origin server, and picks one for each
// request (Client.pick; there is one backend today). A backend has what is
// its own:
//
//   - a pool of keep-alive HTTP/1.1 connections (pool, poolConn) for the
//     requests without a body to a plain-http origin. Each exchange runs on
//     the caller's goroutine (no goroutine per connection); before an idle
//     connection carries a request, a non-blocking MSG_PEEK (peeker) tells
//     whether the origin closed it or wrote to it unasked. It is Hoard's
//     own because net/http's Transport hands every exchange between two
//     goroutines per connection, which a cache pays on every miss; it
//     still uses net/http to write requests and parse responses
//     (Request.Write, ReadResponse). A test compares it with the Transport
//     (BenchmarkOriginRoundTrip).
//   - an *http.Transport for the other requests (with a body, https), the
//     plain path that Options.Transport can also replace wholesale;
//   - a bound on the connections open at once, one count for both pools
//     (slots; Options.MaxConns);
//   - a dial backoff after refused connections (backoff).
//
// # Where the next origins go
//
// Several origins per site, with load balancing, health checks and
// retries on another origin, fit in this shape: Options gives more than
// one origin and New makes a backend for each; Client.pick chooses among
// the healthy ones by a policy; a health checker is a goroutine per
// backend owned by the Client, ended by Close; and Client.RoundTrip, which
// already sends a safe request again when a pooled connection turns out
// closed, sends a request that failed before any answer arrived to the
// next backend. None of that exists yet.
//
// # Errors
//
// Every error RoundTrip returns is an *Error whose Kind says what went
// wrong (Unreachable, Timeout, InvalidResponse). The Kind is decided in
// one place (newError), and Classify is the one function that turns it
// into Hoard's answer: 502 or 504, and the Cache-Status detail.
//
// The package must not cache, interpret Cache-Control, or log per
// request; its only log lines are the backoff's.
package origin
