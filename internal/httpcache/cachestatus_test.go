package httpcache

import (
	"testing"
	"time"
)

func TestCacheStatusString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   CacheStatus
		want string
	}{
		{"hit with ttl (RFC 9211 §2.1, §2.4)", CacheStatus{Hit: true, TTL: 42 * time.Second, TTLKnown: true},
			"hoard; hit; ttl=42"},
		{"ttl in whole seconds (RFC 9211 §2.4)", CacheStatus{Hit: true, TTL: 42900 * time.Millisecond, TTLKnown: true},
			"hoard; hit; ttl=42"},
		{"negative ttl for a stale response (RFC 9211 §2.4)", CacheStatus{Hit: true, TTL: -5 * time.Second, TTLKnown: true},
			"hoard; hit; ttl=-5"},
		{"zero ttl when known (RFC 9211 §2.4)", CacheStatus{Hit: true, TTLKnown: true}, "hoard; hit; ttl=0"},
		{"uri-miss then stored (RFC 9211 §2.2, §2.5)", CacheStatus{Fwd: FwdURIMiss, Stored: true},
			"hoard; fwd=uri-miss; stored"},
		{"stale, validated with 304 (RFC 9211 §2.2, §2.3)", CacheStatus{Fwd: FwdStale, FwdStatus: 304},
			"hoard; fwd=stale; fwd-status=304"},
		{"bypass with detail (RFC 9211 §2.2, §2.8)", CacheStatus{Fwd: FwdBypass, Detail: ReasonNoStore},
			"hoard; fwd=bypass; detail=no-store"},
		{"collapsed (RFC 9211 §2.6)", CacheStatus{Fwd: FwdMiss, Collapsed: true}, "hoard; fwd=miss; collapsed"},
		// hit and fwd exclude each other (RFC 9211 §2.1), so this is every
		// parameter that can appear together.
		{"parameters in a fixed order (RFC 9211 §2)", CacheStatus{Fwd: FwdVaryMiss, FwdStatus: 200,
			TTL: time.Minute, TTLKnown: true, Stored: true, Collapsed: true, Detail: ReasonStale},
			"hoard; fwd=vary-miss; fwd-status=200; ttl=60; stored; collapsed; detail=stale"},
		{"nothing to say: the identifier alone (RFC 9211 §2)", CacheStatus{}, "hoard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.String("hoard"); got != tt.want {
				t.Errorf("CacheStatus%+v.String(hoard) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestForwardValues(t *testing.T) {
	t.Parallel()
	// RFC 9211 §2.2 defines exactly these fwd values.
	for fwd, want := range map[Forward]string{
		FwdBypass: "bypass", FwdMethod: "method", FwdURIMiss: "uri-miss", FwdVaryMiss: "vary-miss",
		FwdMiss: "miss", FwdRequest: "request", FwdStale: "stale",
	} {
		if string(fwd) != want {
			t.Errorf("Forward %q, want %q (RFC 9211 §2.2)", fwd, want)
		}
	}
}
