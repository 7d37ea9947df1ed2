package disk

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

var _ store.StatsReporter = (*Store)(nil)

// TestStatsCountEvictions fills a small store past its bound: every entry
// put and not kept was evicted, and Stats says so.
func TestStatsCountEvictions(t *testing.T) {
	const maxBytes, puts = 256 << 10, 100
	s := newStore(t, Options{MaxBytes: maxBytes})
	body := bytes.Repeat([]byte("x"), 10<<10)
	for i := range puts {
		storetest.Put(t, s, fmt.Sprintf("k/%d", i), store.Entry{}, body)
	}
	st := s.Stats()
	if st.Entries != int64(s.Len()) || st.Bytes != s.Bytes() || st.MaxBytes != maxBytes {
		t.Errorf("Stats() = %+v, want Entries %d, Bytes %d, MaxBytes %d", st, s.Len(), s.Bytes(), maxBytes)
	}
	if st.Entries == 0 || st.Evictions != puts-st.Entries {
		t.Errorf("Stats() = %+v after %d puts, want Evictions = %d - Entries", st, puts, puts)
	}
}
