package redisstore

import (
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The outage test makes go-redis log every failed dial; keep them out
	// of the test output.
	LogClientTo(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
