package clocktest

import (
	"sync"
	"testing"
	"time"
)

var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want the start %v", got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() read twice = %v, want it unmoved at %v", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Now() after Advance(90s) = %v, want %v", got, want)
	}
	c.Advance(-30 * time.Second)
	if got, want := c.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Errorf("Now() after Advance(-30s) = %v, want %v", got, want)
	}
	later := start.AddDate(1, 0, 0)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Errorf("Now() after Set(%v) = %v", later, got)
	}
}

// TestClockConcurrentUse: readers and movers share a clock without a race
// (run with -race), and no Advance is lost.
func TestClockConcurrentUse(t *testing.T) {
	c := New(start)
	now := c.Now // the method value, as a Clock option holds it
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(800*time.Second); !got.Equal(want) {
		t.Errorf("Now() after 800 concurrent Advance(1s) = %v, want %v", got, want)
	}
}
