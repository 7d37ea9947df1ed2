package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestServedCountsByLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Served(&Request{Outcome: Hit, Method: MethodGet, Bytes: 10, FirstByte: time.Millisecond})
	m.Served(&Request{Outcome: Stale, Method: MethodHead, Stale: StaleIfError, Coalesced: true})
	m.Origin(503, OriginAnswered, time.Second)
	m.Origin(0, OriginTimeout, 0)
	m.Purged(PurgeAdmin, PurgeDone, 3)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"requests{hit,get}", testutil.ToFloat64(m.requests[Hit][MethodGet]), 1},
		{"requests{stale,head}", testutil.ToFloat64(m.requests[Stale][MethodHead]), 1},
		{"bytes{hit}", testutil.ToFloat64(m.bytes[Hit]), 10},
		{"stale{stale-if-error}", testutil.ToFloat64(m.stale[StaleIfError]), 1},
		{"coalesced", testutil.ToFloat64(m.coalesced), 1},
		{"origin{5xx,none}", testutil.ToFloat64(m.origin[5][OriginAnswered]), 1},
		{"origin{none,timeout}", testutil.ToFloat64(m.origin[0][OriginTimeout]), 1},
		{"purged", testutil.ToFloat64(m.purged), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	n, err := testutil.GatherAndCount(reg, "hoard_time_to_first_byte_seconds")
	if err != nil || n != 2 {
		t.Errorf("GatherAndCount(ttfb) = %d, %v; want the hit and miss series", n, err)
	}
}

// TestServedAllocatesNothing pins the promise of the package doc: counting
// a request is atomic adds on collectors made in New.
func TestServedAllocatesNothing(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{Outcome: Hit, Method: MethodGet, Bytes: 1000, FirstByte: 50 * time.Microsecond}
	if n := testing.AllocsPerRun(100, func() { m.Served(r); m.Origin(200, OriginAnswered, time.Millisecond) }); n != 0 {
		t.Errorf("Served and Origin allocate %v times a call, want 0", n)
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.Served(&Request{})
	m.Origin(200, OriginAnswered, 0)
	m.Purged(PurgeMethod, PurgeDone, 1)
}

func TestStoreGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	err := RegisterStores(reg, []Store{
		{Name: "memory", Stats: func() StoreStats { return StoreStats{Entries: 2, Bytes: 300, MaxBytes: 1000, Evictions: 4} }},
		{Name: "redis", Stats: func() StoreStats { return StoreStats{Entries: 1, Bytes: 5, Evictions: -1} }},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP hoard_store_evictions_total Entries a store tier removed to make room, since the process started.
# TYPE hoard_store_evictions_total counter
hoard_store_evictions_total{store="memory"} 4
# HELP hoard_store_max_bytes The bound on hoard_store_bytes.
# TYPE hoard_store_max_bytes gauge
hoard_store_max_bytes{store="memory"} 1000
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoard_store_evictions_total", "hoard_store_max_bytes"); err != nil {
		t.Error(err)
	}
}
