package admin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hoard-cache/hoard/internal/metrics"
)

// StatsOptions configures a Stats.
type StatsOptions struct {
	// Gatherer is the registry that internal/metrics counts on. Required.
	Gatherer prometheus.Gatherer
	// TopURLs is read for the most requested and missed paths. Nil shows
	// none.
	TopURLs *metrics.TopURLs
	// Ready is asked once a second whether the store serves as
	// configured. Nil means always ready.
	Ready Readier
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
}

// Stats keeps what the dashboard shows: once a second (Run) it gathers the
// Prometheus registry, keeps the difference from the second before in a
// ring of samples, notes the purges and asks the store whether it is
// ready. GET /_hoard/stats serves the result, so that what a viewer costs
// does not grow with the number of viewers.
type Stats struct {
	opts StatsOptions

	mu      sync.Mutex // guards the fields below
	samples []Sample   // the last ringLen, oldest first
	last    totals     // as gathered at the last tick
	started bool       // last holds a gathering
	purges  []PurgeEvent
	ready   Readiness
}

// ringLen is how many one-second samples are kept: five minutes.
const ringLen = 300

// maxPurges is how many purge events are kept.
const maxPurges = 20

// originWindow is how many seconds the origin's state is judged over.
const originWindow = 10

// Sample is what happened in one second.
type Sample struct {
	Time           int64   `json:"t"` // Unix milliseconds at its end
	Requests       float64 `json:"requests"`
	Hits           float64 `json:"hits"` // hit and stale
	Misses         float64 `json:"misses"`
	Bytes          float64 `json:"bytes"`
	OriginRequests float64 `json:"origin_requests"`
	OriginErrors   float64 `json:"origin_errors"` // no answer, or 5xx
	// OriginLatency is the mean time to the origin's response header over
	// the second, in seconds; 0 without any.
	OriginLatency float64 `json:"origin_latency"`
}

// PurgeEvent is the purges of one second.
type PurgeEvent struct {
	Time    int64   `json:"t"`       // Unix milliseconds
	Admin   float64 `json:"admin"`   // done through the admin API
	Method  float64 `json:"method"`  // done with the PURGE method
	Failed  float64 `json:"failed"`  // denied or failed, from either
	Entries float64 `json:"entries"` // stored responses removed
}

// Readiness is the store's answer to the last readiness check.
type Readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// totals are the counters as gathered.
type totals struct {
	byCache        map[string]float64 // hoard_requests_total by cache outcome
	bytes          float64
	originRequests float64
	originErrors   float64
	latencySum     float64
	latencyCount   float64
	purges         map[[2]string]float64 // by source, result
	purged         float64
	stores         []StoreUse
}

// StoreUse is one store tier's size.
type StoreUse struct {
	Name     string  `json:"name"`
	Entries  float64 `json:"entries"`
	Bytes    float64 `json:"bytes"`
	MaxBytes float64 `json:"max_bytes,omitempty"`
}

// NewStats returns a Stats; Run makes it sample.
func NewStats(opts StatsOptions) *Stats {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Stats{opts: opts, ready: Readiness{Ready: true}}
}

// Run samples once a second until ctx is done.
func (s *Stats) Run(ctx context.Context) {
	s.tick(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick(ctx)
		}
	}
}

// tick takes one sample.
func (s *Stats) tick(ctx context.Context) {
	ready := Readiness{Ready: true}
	if s.opts.Ready != nil {
		rctx, cancel := context.WithTimeout(ctx, readyTimeout)
		if err := s.opts.Ready.Ready(rctx); err != nil {
			ready = Readiness{Reason: err.Error()}
		}
		cancel()
	}
	now := gather(s.opts.Gatherer)
	at := s.opts.Clock().UnixMilli()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = ready
	if s.started {
		s.samples = append(s.samples, s.last.since(now, at))
		if len(s.samples) > ringLen {
			s.samples = s.samples[len(s.samples)-ringLen:]
		}
		if e, ok := s.last.purgedSince(now, at); ok {
			s.purges = append(s.purges, e)
			if len(s.purges) > maxPurges {
				s.purges = s.purges[len(s.purges)-maxPurges:]
			}
		}
	}
	s.last, s.started = now, true
}

// since returns the sample of what happened between prev and now.
func (prev totals) since(now totals, at int64) Sample {
	d := Sample{
		Time:           at,
		Hits:           now.byCache["hit"] + now.byCache["stale"] - prev.byCache["hit"] - prev.byCache["stale"],
		Misses:         now.byCache["miss"] - prev.byCache["miss"],
		Bytes:          now.bytes - prev.bytes,
		OriginRequests: now.originRequests - prev.originRequests,
		OriginErrors:   now.originErrors - prev.originErrors,
	}
	for _, v := range now.byCache {
		d.Requests += v
	}
	for _, v := range prev.byCache {
		d.Requests -= v
	}
	if n := now.latencyCount - prev.latencyCount; n > 0 {
		d.OriginLatency = (now.latencySum - prev.latencySum) / n
	}
	return d
}

// purgedSince returns the purges between prev and now, if there were any.
func (prev totals) purgedSince(now totals, at int64) (PurgeEvent, bool) {
	e := PurgeEvent{Time: at, Entries: now.purged - prev.purged}
	seen := false
	for k, v := range now.purges {
		d := v - prev.purges[k]
		if d <= 0 {
			continue
		}
		seen = true
		switch {
		case k[1] != metrics.PurgeDone:
			e.Failed += d
		case k[0] == metrics.PurgeAdmin:
			e.Admin += d
		default:
			e.Method += d
		}
	}
	return e, seen
}

// gather reads the counters the dashboard shows off g. A failed gathering
// (a collector that errs) still returns what the others gave.
func gather(g prometheus.Gatherer) totals {
	t := totals{byCache: map[string]float64{}, purges: map[[2]string]float64{}}
	families, _ := g.Gather() // partial on error, which the dashboard can show
	stores := map[string]*StoreUse{}
	store := func(m *dto.Metric) *StoreUse {
		name := label(m, "store")
		if stores[name] == nil {
			stores[name] = &StoreUse{Name: name}
			t.stores = append(t.stores, StoreUse{Name: name})
		}
		return stores[name]
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "hoard_requests_total":
				t.byCache[label(m, "cache")] += m.GetCounter().GetValue()
			case "hoard_response_body_bytes_total":
				t.bytes += m.GetCounter().GetValue()
			case "hoard_origin_requests_total":
				v := m.GetCounter().GetValue()
				t.originRequests += v
				if c := label(m, "status_class"); c == "none" || c == "5xx" {
					t.originErrors += v
				}
			case "hoard_origin_response_header_seconds":
				t.latencySum += m.GetHistogram().GetSampleSum()
				t.latencyCount += float64(m.GetHistogram().GetSampleCount())
			case "hoard_purges_total":
				t.purges[[2]string{label(m, "source"), label(m, "result")}] += m.GetCounter().GetValue()
			case "hoard_purged_entries_total":
				t.purged += m.GetCounter().GetValue()
			case "hoard_store_entries":
				store(m).Entries = m.GetGauge().GetValue()
			case "hoard_store_bytes":
				store(m).Bytes = m.GetGauge().GetValue()
			case "hoard_store_max_bytes":
				store(m).MaxBytes = m.GetGauge().GetValue()
			}
		}
	}
	for i := range t.stores {
		t.stores[i] = *stores[t.stores[i].Name]
	}
	return t
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Report is the body of GET /_hoard/stats.
type Report struct {
	Time int64 `json:"t"` // Unix milliseconds of the last sample
	// Totals since the process started.
	Requests float64            `json:"requests"`
	ByCache  map[string]float64 `json:"by_cache"` // hit, miss, stale, revalidated, collapsed, pass, error
	// HitRatio is (hit + stale) / requests; 0 before any request.
	HitRatio       float64      `json:"hit_ratio"`
	Bytes          float64      `json:"bytes"`
	OriginRequests float64      `json:"origin_requests"`
	OriginErrors   float64      `json:"origin_errors"`
	OriginLatency  float64      `json:"origin_latency"` // mean, in seconds
	Origin         string       `json:"origin"`         // idle, ok, degraded or failing, over the last 10s
	Store          Readiness    `json:"store"`
	Stores         []StoreUse   `json:"stores"`
	Samples        []Sample     `json:"samples"` // the last five minutes, one a second, oldest first
	TopRequests    []URLCount   `json:"top_requests"`
	TopMisses      []URLCount   `json:"top_misses"`
	Purges         []PurgeEvent `json:"purges"` // the latest first
}

// URLCount is one path of the top URLs.
type URLCount = metrics.URLCount

// topLen is how many paths each top list shows.
const topLen = 10

// report returns what the dashboard shows now.
func (s *Stats) report() Report {
	s.mu.Lock()
	t := s.last
	r := Report{
		Samples: append([]Sample(nil), s.samples...),
		Store:   s.ready,
		Stores:  t.stores,
		ByCache: t.byCache,
		Bytes:   t.bytes, OriginRequests: t.originRequests, OriginErrors: t.originErrors,
	}
	for i := len(s.purges) - 1; i >= 0; i-- {
		r.Purges = append(r.Purges, s.purges[i])
	}
	s.mu.Unlock()

	if n := len(r.Samples); n > 0 {
		r.Time = r.Samples[n-1].Time
	}
	for _, v := range t.byCache {
		r.Requests += v
	}
	if r.Requests > 0 {
		r.HitRatio = (t.byCache["hit"] + t.byCache["stale"]) / r.Requests
	}
	if t.latencyCount > 0 {
		r.OriginLatency = t.latencySum / t.latencyCount
	}
	r.Origin = originState(r.Samples)
	r.TopRequests, r.TopMisses = s.opts.TopURLs.Top(topLen)
	for _, l := range []*[]URLCount{&r.TopRequests, &r.TopMisses} {
		if *l == nil {
			*l = []URLCount{} // a list, never null, for the page
		}
	}
	return r
}

// originState judges the origin by the last originWindow samples.
func originState(samples []Sample) string {
	var requests, errors float64
	for _, s := range samples[max(0, len(samples)-originWindow):] {
		requests += s.OriginRequests
		errors += s.OriginErrors
	}
	switch {
	case requests == 0:
		return "idle"
	case errors == 0:
		return "ok"
	case errors < requests:
		return "degraded"
	}
	return "failing"
}

func (s *Stats) serveHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.report())
}
