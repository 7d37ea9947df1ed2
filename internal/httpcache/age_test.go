package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestCurrentAge(t *testing.T) {
	t.Parallel()
	sec := time.Second
	tests := []struct {
		name string
		h    http.Header
		// request, response and now as offsets from t0
		request, response, now time.Duration
		want                   time.Duration
	}{
		{"no Date and no Age: resident time only (RFC 9111 §4.2.3)",
			hdr(), 0, 0, 10 * sec, 10 * sec},
		{"no Date: apparent age is zero (RFC 9110 §6.6.1)",
			hdr("Age", "5"), 0, 0, 0, 5 * sec},
		{"apparent age is response time minus Date (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0.Add(-30*sec))), 0, 0, 0, 30 * sec},
		{"apparent age never negative: Date in the future (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0.Add(60*sec))), 0, 0, 7 * sec, 7 * sec},
		{"response delay added to Age (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0), "Age", "10"), 0, 2 * sec, 2 * sec, 12 * sec},
		{"larger of apparent age and corrected Age: apparent (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0.Add(-100*sec)), "Age", "10"), 0, 0, 0, 100 * sec},
		{"larger of apparent age and corrected Age: Age (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0.Add(-10*sec)), "Age", "100"), 0, 0, 0, 100 * sec},
		{"resident time added (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0), "Age", "10"), 0, 0, 50 * sec, 60 * sec},
		{"all terms together (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0.Add(-4*sec)), "Age", "20"), -3 * sec, 0, 30 * sec, 53 * sec},
		// RFC 9111 §5.1: an invalid Age means "a cache SHOULD consider the
		// response to be stale". CurrentAge counts none of an invalid value
		// (an Age sent downstream stays meaningful); TestEvaluate checks
		// that such a response is stale.
		{"decimal Age counts no age (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "7200.0"), 0, 0, 0, 0},
		{"negative Age counts no age (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "-7200"), 0, 0, 0, 0},
		{"non-numeric Age counts no age (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "abc"), 0, 0, 0, 0},
		{"Age 2^31-1 kept (RFC 9111 §1.2.2)",
			hdr("Date", httpDate(t0), "Age", "2147483647"), 0, 0, 0, 2147483647 * sec},
		{"Age 2^31+1 capped at 2^31 (RFC 9111 §1.2.2)",
			hdr("Date", httpDate(t0), "Age", "2147483649"), 0, 0, 0, MaxDelta},
		{"huge Age capped at 2^31 (RFC 9111 §1.2.2)",
			hdr("Date", httpDate(t0), "Age", "99999999999999"), 0, 0, 0, MaxDelta},
		{"first of several Age lines used: old, 0 (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "7200", "Age", "0"), 0, 0, 0, 7200 * sec},
		{"first of several Age lines used: 0, old (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "0", "Age", "7200"), 0, 0, 0, 0},
		{"invalid first Age line counts no age (RFC 9111 §5.1)",
			hdr("Date", httpDate(t0), "Age", "abc", "Age", "7200"), 0, 0, 0, 0},
		{"invalid Date ignored (RFC 9111 §4.2.3)",
			hdr("Date", "yesterday", "Age", "3"), 0, 0, 0, 3 * sec},
		{"two Date lines ignored (RFC 9110 §5.5)",
			hdr("Date", httpDate(t0.Add(-100*sec)), "Date", httpDate(t0.Add(-200*sec))), 0, 0, 0, 0},
		{"response before request: delay never negative (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0), "Age", "10"), 5 * sec, 0, 0, 10 * sec},
		{"now before response time: resident time never negative (RFC 9111 §4.2.3)",
			hdr("Date", httpDate(t0), "Age", "10"), 0, 0, -5 * sec, 10 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, resp, now := t0.Add(tt.request), t0.Add(tt.response), t0.Add(tt.now)
			if got := CurrentAge(tt.h, req, resp, now); got != tt.want {
				t.Errorf("CurrentAge(%s, request %v, response %v, now %v) = %v, want %v",
					show(tt.h), tt.request, tt.response, tt.now, got, tt.want)
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"whole seconds (RFC 9111 §5.1)", 42 * time.Second, "42"},
		{"fractions rounded down (RFC 9111 §5.1)", 1999 * time.Millisecond, "1"},
		{"zero (RFC 9111 §5.1)", 0, "0"},
		{"negative clamped to zero (RFC 9111 §5.1)", -5 * time.Second, "0"},
		{"capped at 2^31 (RFC 9111 §5.1)", MaxDelta + time.Hour, "2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FormatAge(tt.in); got != tt.want {
				t.Errorf("FormatAge(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
