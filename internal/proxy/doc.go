// Package proxy is Hoard's caching reverse proxy: an http.Handler that
// composes the RFC 9111 rules of package httpcache with a store.Store and an
// origin reached through an origin.Client.
//
// The handler owns the client-facing I/O and the concurrency of caching
// (coalesced fetches, background fills and revalidations); every caching
// rule it applies is a function of httpcache. Connections to the origin,
// their bound and backoff, and what an origin failure is, belong to
// package origin. The handler must not interpret stored bytes itself beyond
// what the store.Entry carries.
//
// # A request's path through the files
//
// handler.go: ServeHTTP drops the fields Connection names, refuses CONNECT
// and bad targets, applies Max-Forwards, and sends GET and HEAD to the cache
// (serveCacheable), PURGE to purge.go, and every other method to the origin
// (serveForwarded, forward.go), invalidating what it changes (RFC 9111
// §4.4).
//
// exchange.go: a GET or HEAD becomes one exchange, a value on the stack that
// carries the writer, the request, its directives, the key, the lookup, the
// flight and the times down the path. serveCacheable sends a request with a
// body or preconditions past the cache (bypass), looks in the store
// (vary.go: lookup, where Vary is matched), serves what may be reused
// (answerFromStore, respond.go), and otherwise goes to the origin (forward):
// alone, leading the key's flight, or following it (coalesce.go).
//
// fetch.go is where a miss is fetched: fetch builds the validation request,
// makes the round trip (forward.go), then serves stale on error, hands a 304
// to validate.go (refresh, RFC 9111 §4.3.4), or stores and serves the
// response (storeAndServe; storing.go writes the entry). The body goes to the
// client through respond.go (stream) and, while it is being stored or
// shared, through fill.go and the flight's body (flightbody.go).
//
// errors.go is where a failure becomes a status: failOrigin is the one
// function that maps an origin failure to the client's answer.
//
// explain.go is what "hoard explain" asks through the admin API: every
// stored variant of a URL, or, when none is, an origin fetch that stores
// nothing, explained by package explain.
//
// memo.go holds what is derived once from a stored response's fields;
// ranges.go, forwarded.go, pending.go (fetches an invalidation outdates) and
// fleet.go (one fill across processes) serve the steps above. The origin
// client (originclient.go, backoff.go) is the Transport used when none is
// given.
package proxy
