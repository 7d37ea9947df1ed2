// Package proxy is Hoard's caching reverse proxy: an http.Handler that
// composes the RFC 9111 rules of package httpcache with a store.Store and an
// origin reached through an http.RoundTripper.
//
// The handler owns all I/O and concurrency; every caching rule it applies is
// a function of httpcache. It must not interpret stored bytes itself beyond
// what the store.Entry carries.
package proxy
