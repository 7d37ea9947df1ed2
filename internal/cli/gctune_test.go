package cli

import "testing"

func TestGCPercentFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{gcSmallHeap, 100},
		{2 * gcSmallHeap, 50},
		{4 * gcSmallHeap, 25},
		{100 * gcSmallHeap, gcMinPercent},
		{5 * gcSmallHeap, 20},
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
