package metrics

import "github.com/prometheus/client_golang/prometheus"

// RegisterConnections registers the gauges of open connections on reg:
// clients reports those of clients, origin those to the origin. Both are
// called at each scrape, not on the request path.
func RegisterConnections(reg prometheus.Registerer, clients, origin func() int) error {
	for _, g := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hoard_client_connections",
			Help: "Client connections open on the proxy listener.",
		}, func() float64 { return float64(clients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hoard_origin_connections",
			Help: "Connections open to the origin, idle ones included.",
		}, func() float64 { return float64(origin()) }),
	} {
		if err := reg.Register(g); err != nil {
			return err
		}
	}
	return nil
}

// StoreStats is what a store tier reports of its size.
type StoreStats struct {
	Entries, Bytes int64
	MaxBytes       int64 // 0 when the tier has no known bound
	Evictions      int64 // -1 when the tier does not count them
}

// Store is one tier of the store (memory, disk, redis), read at each scrape.
type Store struct {
	Name  string // a bounded label: the kind of store
	Stats func() StoreStats
}

// RegisterStores registers the gauges of the store tiers on reg.
func RegisterStores(reg prometheus.Registerer, tiers []Store) error {
	return reg.Register(storeCollector(tiers))
}

var (
	storeEntries = prometheus.NewDesc("hoard_store_entries",
		"Entries held by a store tier, expired ones not yet dropped included.", []string{"store"}, nil)
	storeBytes = prometheus.NewDesc("hoard_store_bytes",
		"Size of the entries of a store tier, as counted against its bound.", []string{"store"}, nil)
	storeMaxBytes = prometheus.NewDesc("hoard_store_max_bytes",
		"The bound on hoard_store_bytes.", []string{"store"}, nil)
	storeEvictions = prometheus.NewDesc("hoard_store_evictions_total",
		"Entries a store tier removed to make room, since the process started.", []string{"store"}, nil)
)

type storeCollector []Store

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeEntries
	ch <- storeBytes
	ch <- storeMaxBytes
	ch <- storeEvictions
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, tier := range c {
		s := tier.Stats()
		ch <- prometheus.MustNewConstMetric(storeEntries, prometheus.GaugeValue, float64(s.Entries), tier.Name)
		ch <- prometheus.MustNewConstMetric(storeBytes, prometheus.GaugeValue, float64(s.Bytes), tier.Name)
		if s.MaxBytes > 0 {
			ch <- prometheus.MustNewConstMetric(storeMaxBytes, prometheus.GaugeValue, float64(s.MaxBytes), tier.Name)
		}
		if s.Evictions >= 0 {
			ch <- prometheus.MustNewConstMetric(storeEvictions, prometheus.CounterValue, float64(s.Evictions), tier.Name)
		}
	}
}
