package httpcache

import (
	"fmt"
	"net/http"
	"testing"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       string
		size    int64
		want    []ByteRange
		outcome RangeOutcome
	}{
		{"first bytes (RFC 9110 §14.1.2)", "bytes=0-99", 1000, []ByteRange{{0, 100}}, RangePartial},
		{"open-ended range (RFC 9110 §14.1.2)", "bytes=900-", 1000, []ByteRange{{900, 100}}, RangePartial},
		{"suffix range (RFC 9110 §14.1.2)", "bytes=-10", 1000, []ByteRange{{990, 10}}, RangePartial},
		{"suffix longer than the body is the whole body (RFC 9110 §14.1.2)", "bytes=-5000", 1000, []ByteRange{{0, 1000}}, RangePartial},
		{"last position past the end is clipped (RFC 9110 §14.1.2)", "bytes=990-5000", 1000, []ByteRange{{990, 10}}, RangePartial},
		{"several ranges in the order asked (RFC 9110 §14.6)", "bytes=500-599, 0-9", 1000, []ByteRange{{500, 100}, {0, 10}}, RangePartial},
		{"unit is case-insensitive (RFC 9110 §14.1)", "Bytes=0-0", 10, []ByteRange{{0, 1}}, RangePartial},
		{"first position past the end is unsatisfiable (RFC 9110 §14.1.1)", "bytes=1000-", 1000, nil, RangeUnsatisfiable},
		{"zero suffix is unsatisfiable (RFC 9110 §14.1.1)", "bytes=-0", 1000, nil, RangeUnsatisfiable},
		{"satisfiable member wins over unsatisfiable ones (RFC 9110 §14.1.1)", "bytes=2000-, 0-0", 1000, []ByteRange{{0, 1}}, RangePartial},
		{"other unit is ignored (RFC 9110 §14.2)", "items=0-1", 1000, nil, RangeIgnore},
		{"last before first is invalid, so ignored (RFC 9110 §14.1.1)", "bytes=10-5", 1000, nil, RangeIgnore},
		{"garbage is ignored (RFC 9110 §14.2)", "bytes=abc", 1000, nil, RangeIgnore},
		{"overlapping ranges are answered in full (RFC 9110 §14.2)", "bytes=0-10, 5-20", 1000, nil, RangeIgnore},
		{"empty set is ignored (RFC 9110 §14.2)", "bytes=", 1000, nil, RangeIgnore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, outcome := ParseRange(tt.v, tt.size)
			if outcome != tt.outcome || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ParseRange(%q, %d) = %v, %v; want %v, %v", tt.v, tt.size, got, outcome, tt.want, tt.outcome)
			}
		})
	}
}

func TestIfRangeMatches(t *testing.T) {
	t.Parallel()
	stored := http.Header{
		"Etag":          {`"v1"`},
		"Last-Modified": {"Tue, 24 Nov 2026 10:00:00 GMT"},
		"Date":          {"Tue, 24 Nov 2026 12:00:00 GMT"},
	}
	tests := []struct {
		name, ifRange string
		want          bool
	}{
		{"no If-Range", "", true},
		{"same strong tag (RFC 9110 §13.1.5)", `"v1"`, true},
		{"other tag (RFC 9110 §13.1.5)", `"v2"`, false},
		{"weak tag never matches: strong comparison (RFC 9110 §13.1.5)", `W/"v1"`, false},
		{"same Last-Modified date (RFC 9110 §13.1.5)", "Tue, 24 Nov 2026 10:00:00 GMT", true},
		{"other date (RFC 9110 §13.1.5)", "Tue, 24 Nov 2026 09:00:00 GMT", false},
		{"invalid value (RFC 9110 §13.1.5)", "yesterday", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := http.Header{}
			if tt.ifRange != "" {
				req.Set("If-Range", tt.ifRange)
			}
			if got := IfRangeMatches(req, stored); got != tt.want {
				t.Errorf("IfRangeMatches(If-Range: %s) = %v, want %v", tt.ifRange, got, tt.want)
			}
		})
	}
}
