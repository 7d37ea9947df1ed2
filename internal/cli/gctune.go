package cli

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A cache's heap is mostly the responses it keeps, which live long, while
// the garbage each request leaves is small. The runtime's default (collect
// when the heap has doubled since the last collection, GOGC=100) then keeps
// up to as much garbage as there is cached data: on a full cache, memory
// use approaches twice what is stored. tuneGC lowers the growth allowed as
// the live heap grows, so that a large cache costs close to its size in
// memory, while a small one (a hot set of few objects) keeps the default
// and collects rarely. A collection of a large heap costs more, but is
// needed less often than the lower percentage suggests, since a hit makes
// only a few hundred bytes of garbage.
const (
	gcSmallHeap   = 48 << 20 // up to this live heap, the default GOGC=100
	gcMinPercent  = 15       // the floor, reached at about 7x gcSmallHeap
	gcTuneEvery   = time.Second
	gcLiveHeapKey = "/gc/heap/live:bytes"
)

// gcPercentFor returns the GOGC value for a live heap of live bytes:
// 100 up to gcSmallHeap, then 100 * gcSmallHeap / live, never below
// gcMinPercent.
func gcPercentFor(live uint64) int {
	if live <= gcSmallHeap {
		return 100
	}
	return max(gcMinPercent, int(100*gcSmallHeap/live))
}

// tuneGC adjusts GOGC to the live heap every second until ctx ends. It
// does nothing when the operator set GOGC.
func tuneGC(ctx context.Context, lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: gcLiveHeapKey}}
	current := 100
	t := time.NewTicker(gcTuneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // this runtime does not report it: keep the default
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
}
