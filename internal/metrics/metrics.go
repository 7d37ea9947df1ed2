// Package metrics holds Hoard's Prometheus collectors, registered on a
// registry the caller creates (never the global default).
//
// Every label is bounded: a cache outcome, a method class, a status class,
// a failure or stale reason, a store name. Never a URL or a key. The
// collectors of the request path are made once, in New, with every label
// value they can take, so that counting a request is a few atomic adds and
// allocates nothing.
//
// The package imports nothing of Hoard's: callers translate what they know
// into the small types here.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is what the cache did with a request, as its Cache-Status says.
type Outcome uint8

// The outcomes, the values of the cache label.
const (
	Hit         Outcome = iota // served from the store, fresh
	Miss                       // fetched from the origin (and perhaps stored)
	Stale                      // a stale stored response was served
	Revalidated                // the origin said 304 and the stored response was served
	Collapsed                  // the request waited for another's origin fetch
	Pass                       // the cache was not used (method, request body, bypass)
	Error                      // Hoard answered with an error of its own (502, 504, 400...)
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"hit", "miss", "stale", "revalidated", "collapsed", "pass", "error"}

func (o Outcome) String() string { return outcomeNames[o] }

// MethodClass groups request methods into a bounded label.
type MethodClass uint8

// The method classes, the values of the method label.
const (
	MethodGet   MethodClass = iota // GET
	MethodHead                     // HEAD
	MethodWrite                    // POST, PUT, PATCH, DELETE
	MethodPurge                    // PURGE
	MethodOther                    // anything else
	numMethods
)

var methodNames = [numMethods]string{"get", "head", "write", "purge", "other"}

// ClassOf returns the class of a request method.
func ClassOf(method string) MethodClass {
	switch method {
	case "GET":
		return MethodGet
	case "HEAD":
		return MethodHead
	case "POST", "PUT", "PATCH", "DELETE":
		return MethodWrite
	case "PURGE":
		return MethodPurge
	}
	return MethodOther
}

// StaleReason is why a stale response was served.
type StaleReason uint8

// The stale reasons, the values of the reason label of stale serves.
const (
	StaleWhileRevalidate StaleReason = iota // RFC 5861 §3
	StaleIfError                            // RFC 5861 §4
	MaxStale                                // the request's max-stale (RFC 9111 §5.2.1.2)
	numStaleReasons
)

var staleNames = [numStaleReasons]string{"stale-while-revalidate", "stale-if-error", "max-stale"}

// OriginFailure is why an origin exchange failed, or OriginAnswered.
type OriginFailure uint8

// The origin results, the values of the reason label of origin requests.
const (
	OriginAnswered    OriginFailure = iota // a response header arrived
	OriginTimeout                          // no answer in time
	OriginUnreachable                      // no connection, or a broken one
	OriginInvalid                          // an answer that is not HTTP
	numOriginFailures
)

var failureNames = [numOriginFailures]string{"none", "timeout", "unreachable", "invalid_response"}

// statusClasses are the values of the status_class label; "none" is for a
// failed exchange.
var statusClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass returns the index in statusClasses of an HTTP status.
func statusClass(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// Request is what is counted of one client request, once answered.
type Request struct {
	Outcome Outcome
	Method  MethodClass
	Bytes   int64 // body bytes sent to the client
	// FirstByte is the time from the request's arrival to its response
	// header; zero when none was sent.
	FirstByte time.Duration
	// Coalesced is set when the request waited for another's fetch,
	// whatever its outcome.
	Coalesced bool
	// Stale says why, when Outcome is Stale.
	Stale StaleReason
}

// Metrics are the collectors of a Hoard process. A nil *Metrics counts
// nothing: every method may be called on it.
type Metrics struct {
	requests      [numOutcomes][numMethods]prometheus.Counter
	bytes         [numOutcomes]prometheus.Counter
	firstByte     [2]prometheus.Observer // hit, miss
	coalesced     prometheus.Counter
	stale         [numStaleReasons]prometheus.Counter
	origin        [len(statusClasses)][numOriginFailures]prometheus.Counter
	originLatency prometheus.Observer
	purges        map[purgeKey]prometheus.Counter // made in New, read only after
	purged        prometheus.Counter
}

type purgeKey struct{ source, result string }

// Purge sources and results, the values of the labels of hoard_purges_total.
const (
	PurgeMethod = "method" // the PURGE method on the proxy listener
	PurgeAdmin  = "admin"  // the admin API
	PurgeDone   = "done"
	PurgeDenied = "denied" // the client may not purge
	PurgeFailed = "failed" // a bad request, or the store failed
)

// latencyBuckets span a hit served from memory (tens of microseconds) to
// an origin at its timeout (tens of seconds).
var latencyBuckets = prometheus.ExponentialBucketsRange(50e-6, 30, 16)

// New makes the collectors and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{purges: map[purgeKey]prometheus.Counter{}}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hoard_requests_total",
		Help: "Client requests answered, by cache outcome and method class.",
	}, []string{"cache", "method"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hoard_response_body_bytes_total",
		Help: "Response body bytes sent to clients, by cache outcome.",
	}, []string{"cache"})
	firstByte := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hoard_time_to_first_byte_seconds",
		Help:    "Time from a request's arrival to its response header, for hits and misses.",
		Buckets: latencyBuckets,
	}, []string{"cache"})
	coalesced := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hoard_coalesced_waits_total",
		Help: "Requests that waited for another request's origin fetch instead of making their own.",
	})
	stale := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hoard_stale_served_total",
		Help: "Stale stored responses served, by reason.",
	}, []string{"reason"})
	origin := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hoard_origin_requests_total",
		Help: "Requests sent to the origin, by response status class (none when failed) and failure reason (none when answered).",
	}, []string{"status_class", "reason"})
	originLatency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hoard_origin_response_header_seconds",
		Help:    "Time from sending a request to the origin to its response header, for the exchanges that got one.",
		Buckets: latencyBuckets,
	})
	purges := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hoard_purges_total",
		Help: "Purge requests, by source (method, admin) and result (done, denied, failed).",
	}, []string{"source", "result"})
	purged := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hoard_purged_entries_total",
		Help: "Stored responses removed by purges.",
	})
	for _, c := range []prometheus.Collector{requests, bytes, firstByte, coalesced, stale, origin, originLatency, purges, purged} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for o := range numOutcomes {
		for mc := range numMethods {
			m.requests[o][mc] = requests.WithLabelValues(outcomeNames[o], methodNames[mc])
		}
		m.bytes[o] = bytes.WithLabelValues(outcomeNames[o])
	}
	m.firstByte[0] = firstByte.WithLabelValues(outcomeNames[Hit])
	m.firstByte[1] = firstByte.WithLabelValues(outcomeNames[Miss])
	m.coalesced = coalesced
	for r := range numStaleReasons {
		m.stale[r] = stale.WithLabelValues(staleNames[r])
	}
	// Only the pairs that can happen: a failure has no status, an answer
	// no failure reason.
	m.origin[0][OriginTimeout] = origin.WithLabelValues("none", failureNames[OriginTimeout])
	m.origin[0][OriginUnreachable] = origin.WithLabelValues("none", failureNames[OriginUnreachable])
	m.origin[0][OriginInvalid] = origin.WithLabelValues("none", failureNames[OriginInvalid])
	for c := 1; c < len(statusClasses); c++ {
		m.origin[c][OriginAnswered] = origin.WithLabelValues(statusClasses[c], failureNames[OriginAnswered])
	}
	m.originLatency = originLatency
	for _, source := range []string{PurgeMethod, PurgeAdmin} {
		for _, result := range []string{PurgeDone, PurgeDenied, PurgeFailed} {
			m.purges[purgeKey{source, result}] = purges.WithLabelValues(source, result)
		}
	}
	m.purged = purged
	return m, nil
}

// Served counts one answered client request.
func (m *Metrics) Served(r *Request) {
	if m == nil {
		return
	}
	m.requests[r.Outcome][r.Method].Inc()
	if r.Bytes > 0 {
		m.bytes[r.Outcome].Add(float64(r.Bytes))
	}
	if r.FirstByte > 0 {
		switch r.Outcome {
		case Hit:
			m.firstByte[0].Observe(r.FirstByte.Seconds())
		case Miss:
			m.firstByte[1].Observe(r.FirstByte.Seconds())
		}
	}
	if r.Coalesced {
		m.coalesced.Inc()
	}
	if r.Outcome == Stale {
		m.stale[r.Stale].Inc()
	}
}

// Origin counts one origin exchange: its response status, or why it
// failed (status 0), and, when answered, the time to its response header.
func (m *Metrics) Origin(status int, failure OriginFailure, header time.Duration) {
	if m == nil {
		return
	}
	if failure != OriginAnswered {
		m.origin[0][failure].Inc()
		return
	}
	c := statusClass(status)
	if c == 0 {
		return // net/http gives no such status; nothing to count it as
	}
	m.origin[c][OriginAnswered].Inc()
	m.originLatency.Observe(header.Seconds())
}

// Purged counts one purge request from source with its result, and the
// entries it removed.
func (m *Metrics) Purged(source, result string, entries int) {
	if m == nil {
		return
	}
	if c, ok := m.purges[purgeKey{source, result}]; ok {
		c.Inc()
	}
	if entries > 0 {
		m.purged.Add(float64(entries))
	}
}
