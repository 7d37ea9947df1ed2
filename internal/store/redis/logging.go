package redisstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// LogClientTo sends the go-redis library's own log lines (failed dials,
// pub/sub reconnections) to l at Debug level; by default go-redis prints
// them to standard error, one per failed call during an outage. The errors
// themselves also reach the store's callers, which log them where handled,
// hence Debug.
//
// go-redis keeps one logger per process, so this is process-wide: package
// cli calls it once, at start-up.
func LogClientTo(l *slog.Logger) {
	redis.SetLogger(clientLogger{l})
}

type clientLogger struct{ l *slog.Logger }

func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if c.l.Enabled(ctx, slog.LevelDebug) {
		c.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
	}
}
