package redisstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/internal/store/redistest"
)

// TestReady checks that Ready tells a Redis that answers, one that is down
// (it may come back) and a configuration it will never accept apart.
func TestReady(t *testing.T) {
	srv := redistest.StartServer(t)
	if _, err := srv.Command("CONFIG", "SET", "requirepass", "hunter2"); err != nil {
		t.Fatal(err)
	}
	down := redistest.StartServer(t)
	down.Stop()
	tests := []struct {
		name, url string
		want      string // part of the error; "" means ready
		refused   bool   // the error wraps ErrMisconfigured
	}{
		{"answers", "redis://:hunter2@" + srv.Addr() + "/0", "", false},
		{"down is not misconfigured", "redis://" + down.Addr() + "/0", "redis store: unreachable: ", false},
		{"wrong password", "redis://:wrong@" + srv.Addr() + "/0", "redis store: authentication failed: WRONGPASS", true},
		{"no password", "redis://" + srv.Addr() + "/0", "redis store: authentication failed: NOAUTH", true},
		{"database out of range", "redis://:hunter2@" + srv.Addr() + "/99", "redis store: refused: ERR DB index is out of range", true},
		{"unknown host", "redis://:hunter2@no-such-host.invalid:6379/0", "redis store: unknown host no-such-host.invalid: ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Options{URL: tt.url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			err = s.Ready(t.Context())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Ready() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Ready() = %v, want an error containing %q", err, tt.want)
			case errors.Is(err, ErrMisconfigured) != tt.refused:
				t.Fatalf("Ready() = %v; errors.Is(err, ErrMisconfigured) = %v, want %v", err, !tt.refused, tt.refused)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("Ready() = %v shows the password", err)
			}
		})
	}
}
