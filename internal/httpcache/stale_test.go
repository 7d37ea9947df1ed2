package httpcache

import (
	"testing"
	"time"
)

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cc        string
		staleness time.Duration
		want      bool
	}{
		{"within stale-while-revalidate (RFC 5861 §3)", "max-age=1, stale-while-revalidate=60", 30 * time.Second, true},
		{"at the limit of stale-while-revalidate (RFC 5861 §3)", "max-age=1, stale-while-revalidate=60", time.Minute, true},
		{"past stale-while-revalidate (RFC 5861 §3)", "max-age=1, stale-while-revalidate=60", 61 * time.Second, false},
		{"no stale-while-revalidate (RFC 5861 §3)", "max-age=1", time.Second, false},
		{"invalid stale-while-revalidate (RFC 5861 §3)", "max-age=1, stale-while-revalidate=x", time.Second, false},
		{"must-revalidate forbids it (RFC 9111 §5.2.2.2)", "max-age=1, must-revalidate, stale-while-revalidate=60", time.Second, false},
		{"proxy-revalidate forbids it (RFC 9111 §5.2.2.8)", "max-age=1, proxy-revalidate, stale-while-revalidate=60", time.Second, false},
		{"s-maxage forbids it (RFC 9111 §5.2.2.10)", "s-maxage=1, stale-while-revalidate=60", time.Second, false},
		{"no-cache forbids it (RFC 9111 §4.2.4)", "max-age=1, no-cache, stale-while-revalidate=60", time.Second, false},
		{"qualified no-cache does not (RFC 9111 §5.2.2.4)", `max-age=1, no-cache="Set-Cookie", stale-while-revalidate=60`, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := StaleWhileRevalidate(ParseDirectives(tt.cc), tt.staleness); got != tt.want {
				t.Errorf("StaleWhileRevalidate(%s, %v stale) = %v, want %v", tt.cc, tt.staleness, got, tt.want)
			}
		})
	}
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		resp, req string
		staleness time.Duration
		grace     time.Duration
		want      bool
	}{
		{"response stale-if-error allows (RFC 5861 §4)", "max-age=1, stale-if-error=60", "", 30 * time.Second, 0, true},
		{"response stale-if-error exceeded (RFC 5861 §4)", "max-age=1, stale-if-error=60", "", 61 * time.Second, 0, false},
		{"request stale-if-error allows (RFC 5861 §4)", "max-age=1", "stale-if-error=60", 30 * time.Second, 0, true},
		{"response allowance used before the request's (RFC 5861 §4)", "max-age=1, stale-if-error=60", "stale-if-error=10", 30 * time.Second, 0, true},
		{"default grace when neither says (RFC 9111 §4.2.4)", "max-age=1", "", 30 * time.Second, time.Minute, true},
		{"default grace exceeded (RFC 9111 §4.2.4)", "max-age=1", "", 2 * time.Minute, time.Minute, false},
		{"stale-if-error=0 overrides the default grace (RFC 5861 §4)", "max-age=1, stale-if-error=0", "", 30 * time.Second, time.Minute, false},
		{"must-revalidate forbids it (RFC 9111 §5.2.2.2)", "max-age=1, must-revalidate, stale-if-error=60", "", time.Second, time.Minute, false},
		{"proxy-revalidate forbids it (RFC 9111 §5.2.2.8)", "max-age=1, proxy-revalidate", "stale-if-error=60", time.Second, 0, false},
		{"s-maxage forbids it (RFC 9111 §5.2.2.10)", "s-maxage=1, stale-if-error=60", "", time.Second, 0, false},
		// RFC 9111 §4.2.4: "A cache MUST NOT generate a stale response if it
		// is prohibited by an explicit in-protocol directive (e.g., by a
		// no-cache response directive, ...)". An unqualified no-cache
		// response is never used "without forwarding it for validation and
		// receiving a successful response" (RFC 9111 §5.2.2.4).
		{"unqualified no-cache forbids it (RFC 9111 §4.2.4, §5.2.2.4)", "max-age=1, no-cache, stale-if-error=60", "", time.Second, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := StaleIfError(ParseDirectives(tt.resp), ParseDirectives(tt.req), tt.staleness, tt.grace)
			if got != tt.want {
				t.Errorf("StaleIfError(response %q, request %q, %v stale, grace %v) = %v, want %v",
					tt.resp, tt.req, tt.staleness, tt.grace, got, tt.want)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	// RFC 5861 §4: "An error is any situation that would result in a 500,
	// 502, 503, or 504 HTTP response status code being returned."
	want := map[int]bool{500: true, 502: true, 503: true, 504: true}
	for status := 100; status < 600; status++ {
		if got := ErrorStatus(status); got != want[status] {
			t.Errorf("ErrorStatus(%d) = %v, want %v (RFC 5861 §4)", status, got, want[status])
		}
	}
}

func TestStaleForbiddenBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cc, want string
	}{
		{"must-revalidate (RFC 9111 §5.2.2.2)", "max-age=1, must-revalidate", "must-revalidate"},
		{"proxy-revalidate (RFC 9111 §5.2.2.8)", "max-age=1, proxy-revalidate", "proxy-revalidate"},
		{"s-maxage (RFC 9111 §5.2.2.10)", "s-maxage=1", "s-maxage"},
		{"unqualified no-cache (RFC 9111 §4.2.4, §5.2.2.4)", "max-age=1, no-cache", "no-cache"},
		{"qualified no-cache does not (RFC 9111 §5.2.2.4)", `max-age=1, no-cache="Set-Cookie"`, ""},
		{"must-revalidate named before s-maxage", "s-maxage=1, must-revalidate", "must-revalidate"},
		{"max-age alone allows stale (RFC 9111 §4.2.4)", "max-age=1, stale-while-revalidate=60", ""},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := ParseDirectives(tt.cc)
			if got := StaleForbiddenBy(cc); got != tt.want {
				t.Errorf("StaleForbiddenBy(%q) = %q, want %q", tt.cc, got, tt.want)
			}
			// StaleForbidden is the same rule without no-cache.
			if got, want := StaleForbidden(cc), tt.want != "" && tt.want != "no-cache"; got != want {
				t.Errorf("StaleForbidden(%q) = %v, want %v", tt.cc, got, want)
			}
		})
	}
}
