package httpcache

import (
	"net/http"
	"testing"
	"time"
)

// date1994 is the example instant of RFC 9110 §5.6.7.
var date1994 = time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)

// parseDateTests is shared with FuzzParseDate, which uses each input as a
// seed. A zero want means ParseDate must report false.
var parseDateTests = []struct {
	name string
	in   string
	want time.Time
}{
	{"IMF-fixdate (RFC 9110 §5.6.7)", "Sun, 06 Nov 1994 08:49:37 GMT", date1994},
	{"obsolete RFC 850 format (RFC 9110 §5.6.7)", "Sunday, 06-Nov-94 08:49:37 GMT", date1994},
	{"obsolete asctime format, space-padded day (RFC 9110 §5.6.7)", "Sun Nov  6 08:49:37 1994", date1994},
	{"obsolete asctime format, two-digit day (RFC 9110 §5.6.7)", "Sun Nov 06 08:49:37 1994", date1994},
	{"asctime format, day 16 (RFC 9110 §5.6.7)", "Wed Nov 16 08:49:37 1994",
		time.Date(1994, time.November, 16, 8, 49, 37, 0, time.UTC)},
	{"IMF-fixdate in the future (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 02:01:18 GMT", t0},
	{"IMF-fixdate past 2038 (RFC 9110 §5.6.7)", "Sun, 21 Nov 2286 04:46:39 GMT",
		time.Date(2286, time.November, 21, 4, 46, 39, 0, time.UTC)},
	{"RFC 850 two-digit year within 50 years is in the future (RFC 9110 §5.6.7)",
		"Thursday, 18-Aug-50 02:01:18 GMT", t0},
	{"RFC 850 two-digit year more than 50 years ahead is in the past (RFC 9110 §5.6.7)",
		"Friday, 31-Dec-99 23:59:59 GMT", time.Date(1999, time.December, 31, 23, 59, 59, 0, time.UTC)},
	{"surrounding white space is not part of the field value (RFC 9110 §5.5)",
		" Sun, 06 Nov 1994 08:49:37 GMT\t", date1994},
	// RFC 9111 §4.2: "Although all date formats are specified to be
	// case-sensitive, a cache recipient SHOULD match the field value
	// case-insensitively." (RFC 9110 §5.6.7 points there.)
	{"upper-case day name matched case-insensitively (RFC 9111 §4.2)", "THU, 18 Aug 2050 02:01:18 GMT", t0},
	{"upper-case month matched case-insensitively (RFC 9111 §4.2)", "Thu, 18 AUG 2050 02:01:18 GMT", t0},
	{"mixed-case gMT matched case-insensitively (RFC 9111 §4.2)", "Thu, 18 Aug 2050 02:01:18 gMT", t0},
	{"lower-case gmt matched case-insensitively (RFC 9111 §4.2)", "Thu, 18 Aug 2050 02:01:18 gmt", t0},
	// RFC 9110 §5.6.7: time-of-day ranges over "00:00:00 - 23:59:60 (leap
	// second)"; RFC 9111 §4.2 has a cache represent a date it cannot hold
	// exactly as the nearest earlier time.
	{"leap second is a valid time-of-day (RFC 9110 §5.6.7)", "Sat, 31 Dec 2016 23:59:60 GMT",
		time.Date(2016, time.December, 31, 23, 59, 59, 0, time.UTC)},

	{"extra spaces invalid (RFC 9110 §5.6.7)", "Thu, 18  Aug  2050 02:01:18 GMT", time.Time{}},
	{"one-digit hour invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 2:01:18 GMT", time.Time{}},
	{"one-digit day in IMF-fixdate invalid (RFC 9110 §5.6.7)", "Thu, 8 Aug 2050 02:01:18 GMT", time.Time{}},
	{"zero invalid (RFC 9111 §5.3)", "0", time.Time{}},
	{"minus one invalid (RFC 9111 §5.3)", "-1", time.Time{}},
	{"empty invalid (RFC 9110 §5.6.7)", "", time.Time{}},
	{"trailing garbage invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 02:01:18 GMT x", time.Time{}},
	{"trailing comma invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 02:01:18 GMT,", time.Time{}},
	{"UTC instead of GMT invalid (RFC 9111 §4.2)", "Thu, 18 Aug 2050 02:01:18 UTC", time.Time{}},
	{"other zone invalid (RFC 9111 §4.2)", "Thu, 18 Aug 2050 02:01:18 AEST", time.Time{}},
	{"numeric zone invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 02:01:18 +0000", time.Time{}},
	{"two-digit year in IMF-fixdate invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 50 02:01:18 GMT", time.Time{}},
	{"missing comma invalid (RFC 9110 §5.6.7)", "Thu 18 Aug 2050 02:01:18 GMT", time.Time{}},
	{"dashes in IMF-fixdate invalid (RFC 9110 §5.6.7)", "Thu, 18-Aug-2050 02:01:18 GMT", time.Time{}},
	{"periods in time invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 02.01.18 GMT", time.Time{}},
	{"short day name in RFC 850 format invalid (RFC 9110 §5.6.7)", "Thu, 18-Aug-50 02:01:18 GMT", time.Time{}},
	{"long day name in IMF-fixdate invalid (RFC 9110 §5.6.7)", "Thursday, 18 Aug 2050 02:01:18 GMT", time.Time{}},
	{"unknown month invalid (RFC 9110 §5.6.7)", "Thu, 18 Agu 2050 02:01:18 GMT", time.Time{}},
	{"hour 24 invalid (RFC 9110 §5.6.7)", "Thu, 18 Aug 2050 24:01:18 GMT", time.Time{}},
	{"February 30 invalid (RFC 9110 §5.6.7)", "Wed, 30 Feb 2050 02:01:18 GMT", time.Time{}},
	{"asctime with GMT invalid (RFC 9110 §5.6.7)", "Sun Nov  6 08:49:37 1994 GMT", time.Time{}},
	{"ISO 8601 invalid (RFC 9110 §5.6.7)", "2050-08-18T02:01:18Z", time.Time{}},
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for _, tt := range parseDateTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseDate(tt.in)
			wantOK := !tt.want.IsZero()
			if ok != wantOK || !got.Equal(tt.want) {
				t.Errorf("ParseDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, wantOK)
			}
			if ok && got.Location() != time.UTC {
				t.Errorf("ParseDate(%q) location = %v, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestRFC850Year(t *testing.T) {
	t.Parallel()
	// RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date
	// format, which uses a two-digit year, MUST interpret a timestamp that
	// appears to be more than 50 years in the future as representing the
	// most recent year in the past that had the same last two digits."
	tests := []struct {
		yy, now, want int
	}{
		{26, 2026, 2026},
		{75, 2026, 2075}, // 49 years ahead
		{76, 2026, 2076}, // 50 years ahead: not more than 50
		{77, 2026, 1977}, // 51 years ahead: the past
		{99, 2026, 1999},
		{0, 2026, 2000},
		{25, 2026, 2025},
		{10, 2090, 2110}, // 20 years ahead, across a century
		{40, 2090, 2140}, // 50 years ahead, across a century
		{41, 2090, 2041}, // 2141 would be 51 years ahead
	}
	for _, tt := range tests {
		if got := rfc850Year(tt.yy, tt.now); got != tt.want {
			t.Errorf("rfc850Year(%02d, %d) = %d, want %d", tt.yy, tt.now, got, tt.want)
		}
	}
}

func TestFormatDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"IMF-fixdate (RFC 9110 §5.6.7)", date1994, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"local zone converted to GMT (RFC 9110 §5.6.7)",
			date1994.In(time.FixedZone("AEST", 10*60*60)), "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"fractional seconds dropped (RFC 9110 §5.6.7)", t0.Add(999 * time.Millisecond), "Thu, 18 Aug 2050 02:01:18 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FormatDate(tt.in); got != tt.want {
				t.Errorf("FormatDate(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHeaderDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     http.Header
		want   time.Time
		wantOK bool
	}{
		{"one valid line (RFC 9110 §5.6.7)", hdr("Date", httpDate(t0)), t0, true},
		{"absent", hdr(), time.Time{}, false},
		{"invalid", hdr("Date", "yesterday"), time.Time{}, false},
		{"two lines of a singleton field are invalid (RFC 9110 §5.5)",
			hdr("Date", httpDate(t0), "Date", httpDate(t0)), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := headerDate(tt.in, "Date")
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("headerDate(%s) = %v, %v; want %v, %v", show(tt.in), got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func BenchmarkParseDate(b *testing.B) {
	for _, tt := range []struct{ name, in string }{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT"},
		{"asctime", "Sun Nov  6 08:49:37 1994"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseDate(tt.in)
			}
		})
	}
}
