package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseResponseCacheControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		h        http.Header
		targeted bool
		maxAge   time.Duration // -1: not present
		noStore  bool
		private  bool
	}{
		{"CDN-Cache-Control wins over Cache-Control (RFC 9213 §2.2)",
			hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"), true, 60 * time.Second, false, false},
		{"no CDN-Cache-Control: Cache-Control applies (RFC 9213 §2.2)",
			hdr("Cache-Control", "max-age=5"), false, 5 * time.Second, false, false},
		{"invalid CDN-Cache-Control is ignored (RFC 9213 §2.1)",
			hdr("Cache-Control", "max-age=5", "CDN-Cache-Control", "max-age=\"x"), false, 5 * time.Second, false, false},
		{"empty CDN-Cache-Control is ignored (RFC 9213 §2.1)",
			hdr("Cache-Control", "max-age=5", "CDN-Cache-Control", ""), false, 5 * time.Second, false, false},
		{"boolean directives (RFC 9213 §2.1)",
			hdr("CDN-Cache-Control", "private, no-store"), true, -1, true, true},
		{"a max-age that is not an integer is ignored (RFC 9213 §2.1)",
			hdr("CDN-Cache-Control", "max-age=1.5"), true, -1, false, false},
		{"field lines are combined (RFC 8941 §4.2)",
			hdr("CDN-Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10"), true, 10 * time.Second, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := ParseResponseCacheControl(tt.h)
			maxAge := time.Duration(-1)
			if d.MaxAge.Valid {
				maxAge = d.MaxAge.Value
			}
			if d.Targeted != tt.targeted || maxAge != tt.maxAge || d.NoStore != tt.noStore || d.Private != tt.private {
				t.Errorf("ParseResponseCacheControl(%s) = targeted %v max-age %v no-store %v private %v; want %v %v %v %v",
					show(tt.h), d.Targeted, maxAge, d.NoStore, d.Private, tt.targeted, tt.maxAge, tt.noStore, tt.private)
			}
		})
	}
}

func TestTargetedIgnoresExpires(t *testing.T) {
	t.Parallel()
	h := hdr("CDN-Cache-Control", "public", "Expires", httpDate(t0.Add(time.Hour)), "Date", httpDate(t0))
	cc := ParseResponseCacheControl(h)
	if HasExplicitFreshness(h, cc) {
		t.Errorf("HasExplicitFreshness with CDN-Cache-Control and Expires = true, want false (RFC 9213 §2.2)")
	}
}

// FuzzParseSFDictionary checks that the Structured Fields parser never
// panics and that whatever it accepts has non-empty keys.
func FuzzParseSFDictionary(f *testing.F) {
	for _, seed := range []string{"max-age=60", "a, b=?0, c=\"x\";p=1", "a=(1 2);q", "", "=", "a=\"unterminated", "a=1.5, b=:aGk=:"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, ok := parseSFDictionary(s)
		if !ok {
			return
		}
		for _, m := range members {
			if m.key == "" {
				t.Errorf("parseSFDictionary(%q) accepted an empty key", s)
			}
		}
	})
}
