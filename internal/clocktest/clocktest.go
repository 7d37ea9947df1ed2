// Package clocktest provides a clock that tests move by hand, for code that
// takes its time as a func() time.Time (the Clock field of an Options).
//
// It is for tests only: it never moves on its own and fires no timers. For
// timers and sleeping goroutines, use testing/synctest instead.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a fake clock that moves only when told to. It is safe for
// concurrent use: the code under test may read it while the test moves it.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// New returns a clock that reads start until it is moved.
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time. A method value, c.Now, fits a
// Clock func() time.Time option.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
