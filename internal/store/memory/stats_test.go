package memory

import (
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

var _ store.StatsReporter = (*Store)(nil)

// TestStatsCountEvictions fills a small store past its bound: every entry
// put and not kept was evicted, and Stats says so.
func TestStatsCountEvictions(t *testing.T) {
	const maxBytes = 256 << 10
	storetest.EvictionStats(t, newStore(t, Options{MaxBytes: maxBytes}), maxBytes)
}
