package proxy

import (
	"log/slog"
	"sync"
	"time"
)

// warnEvery is how often a grouped warning is logged, at most, for one
// message and reason.
const warnEvery = 5 * time.Second

// groupedWarnings logs warnings that come once per request (an origin that
// fails, a stale response served in its place) as one line per message and
// reason every warnEvery, with the count of the warnings it stands for: a
// failing origin under load would otherwise write a line per request.
//
// The first warning of a group is logged at once. Those that follow within
// warnEvery are counted, and a timer logs them as one line when the period
// ends; close logs what is counted and stops the timers.
type groupedWarnings struct {
	logger *slog.Logger
	every  time.Duration

	mu     sync.Mutex             // guards groups, closed
	groups map[warnKey]*warnGroup // guarded by mu
	closed bool
}

type warnKey struct{ msg, reason string }

type warnGroup struct {
	count  int         // warnings since the last line
	attrs  []any       // those of the latest warning
	logged time.Time   // when the last line was written
	timer  *time.Timer // pending line of the counted warnings, or nil
}

func newGroupedWarnings(logger *slog.Logger, every time.Duration) *groupedWarnings {
	return &groupedWarnings{logger: logger, every: every, groups: map[warnKey]*warnGroup{}}
}

// warn logs msg with reason and attrs, or counts it for the group's next
// line.
func (g *groupedWarnings) warn(msg, reason string, attrs ...any) {
	k := warnKey{msg, reason}
	now := time.Now()
	g.mu.Lock()
	grp := g.groups[k]
	if grp == nil {
		grp = &warnGroup{}
		g.groups[k] = grp
	}
	grp.count++
	grp.attrs = attrs
	if grp.timer != nil {
		g.mu.Unlock() // counted: the timer logs it
		return
	}
	if wait := g.every - now.Sub(grp.logged); wait > 0 && !g.closed {
		grp.timer = time.AfterFunc(wait, func() { g.flush(k) })
		g.mu.Unlock()
		return
	}
	line := g.take(grp, now)
	g.mu.Unlock()
	g.logger.Warn(msg, append([]any{"reason", reason}, line...)...)
}

// take returns the attributes of grp's line, its count among them, and
// starts its next period at now. The caller holds g.mu.
func (g *groupedWarnings) take(grp *warnGroup, now time.Time) []any {
	line := append(grp.attrs[:len(grp.attrs):len(grp.attrs)], "count", grp.count)
	grp.count, grp.attrs, grp.logged = 0, nil, now
	return line
}

// flush logs the warnings counted in k's group, if any.
func (g *groupedWarnings) flush(k warnKey) {
	g.mu.Lock()
	grp := g.groups[k]
	grp.timer = nil
	if grp.count == 0 {
		g.mu.Unlock()
		return
	}
	line := g.take(grp, time.Now())
	g.mu.Unlock()
	g.logger.Warn(k.msg, append([]any{"reason", k.reason}, line...)...)
}

// close logs every count not logged yet and stops the timers; warnings
// after it are logged at once.
func (g *groupedWarnings) close() {
	g.mu.Lock()
	g.closed = true
	var keys []warnKey
	for k, grp := range g.groups {
		if grp.timer != nil {
			grp.timer.Stop()
		}
		if grp.count > 0 {
			keys = append(keys, k)
		}
	}
	g.mu.Unlock()
	for _, k := range keys {
		g.flush(k)
	}
}
