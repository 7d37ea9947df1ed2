package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// LogClientTo sends the go-redis library's own log lines (failed dials,
// pub/sub reconnections) to l at Debug level; by default go-redis prints
// them to standard error, one per failed call during an outage. The errors
// themselves also reach the store's callers, which log them where handled,
// hence Debug.
//
// go-redis keeps one logger per process, so this is process-wide: package
// cli calls it at start-up. go-redis's logger is set once, and later calls
// only change where it writes, so that they do not race with go-redis's
// goroutines reading it (several servers in one test binary).
func LogClientTo(l *slog.Logger) {
	clientLog.Store(l)
	setClientLogger()
}

var (
	clientLog       atomic.Pointer[slog.Logger]
	setClientLogger = sync.OnceFunc(func() { redis.SetLogger(clientLogger{}) })
)

type clientLogger struct{}

func (clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := clientLog.Load(); l != nil && l.Enabled(ctx, slog.LevelDebug) {
		l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
	}
}
