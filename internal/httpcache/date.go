package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// dateLayouts are the three formats of RFC 9110 §5.6.7: IMF-fixdate, the
// obsolete RFC 850 format, and ANSI C's asctime() format.
var dateLayouts = [...]string{
	http.TimeFormat,
	"Monday, 02-Jan-06 15:04:05 GMT",
	time.ANSIC,
}

// dateShapes give the exact shape of each layout after its day name ('9'
// a digit, 'a' a letter, '_' a space or a digit, anything else itself),
// because time.Parse alone accepts extra spaces and one-digit hours that
// RFC 9110 §5.6.7 does not allow.
var dateShapes = [...]string{
	", 99 aaa 9999 99:99:99 GMT",
	", 99-aaa-99 99:99:99 GMT",
	" aaa _9 99:99:99 9999",
}

// ParseDate parses an HTTP-date (RFC 9110 §5.6.7) in any of its three
// formats. It reports false for anything else, including values with extra
// white space, one-digit fields or trailing garbage.
//
// Following RFC 9111 §4.2, the zone name is matched case-insensitively, and
// a leap second (23:59:60) is read as the second before it. The two-digit
// year of the obsolete RFC 850 format is read relative to the current year
// (rfc850Year).
func ParseDate(s string) (time.Time, bool) {
	s = trimOWS(s)
	if n := len(s); n > 4 && s[n-4] == ' ' && strings.EqualFold(s[n-3:], "GMT") {
		s = s[:n-3] + "GMT"
	}
	if i := strings.Index(s, ":60"); i >= 0 && (i+3 == len(s) || s[i+3] == ' ') {
		s = s[:i] + ":59" + s[i+3:]
	}
	for i, layout := range dateLayouts {
		if !hasDateShape(s, dateShapes[i]) {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil {
			if i == 1 {
				y := rfc850Year(t.Year()%100, time.Now().Year())
				t = time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// rfc850Year returns the year that the two digits yy of an RFC 850 date
// stand for in the year now: the one within 50 years ahead of now, or the
// most recent one in the past if that is further ahead (RFC 9110 §5.6.7).
func rfc850Year(yy, now int) int {
	last := now + 50
	return last - ((last-yy)%100+100)%100
}

// hasDateShape reports whether s is a day name (letters) followed by shape.
func hasDateShape(s, shape string) bool {
	i := 0
	for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z') {
		i++
	}
	if i < 3 || len(s)-i != len(shape) {
		return false
	}
	for j := 0; j < len(shape); j++ {
		c := s[i+j]
		isDigit := c >= '0' && c <= '9'
		switch shape[j] {
		case '9':
			if !isDigit {
				return false
			}
		case '_':
			if !isDigit && c != ' ' {
				return false
			}
		case 'a':
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return false
			}
		default:
			if c != shape[j] {
				return false
			}
		}
	}
	return true
}

// headerDate parses the date in field name of h. A field that appears more
// than once, or holds no valid HTTP-date, reports false.
func headerDate(h http.Header, name string) (time.Time, bool) {
	vs := h[name] // callers pass canonical names
	if len(vs) != 1 {
		return time.Time{}, false
	}
	return ParseDate(vs[0])
}

// FormatDate formats t as an IMF-fixdate (RFC 9110 §5.6.7).
func FormatDate(t time.Time) string {
	return t.UTC().Format(http.TimeFormat)
}
