package httpcache

import (
	"net/http"
	"strconv"
	"strings"
)

// ByteRange is one satisfiable range of a representation: Length bytes
// from Start (RFC 9110 §14.1.2).
type ByteRange struct {
	Start, Length int64
}

// ContentRange formats the range for Content-Range (RFC 9110 §14.4).
func (r ByteRange) ContentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.Start+r.Length-1, 10) +
		"/" + strconv.FormatInt(size, 10)
}

// RangeOutcome is what a cache does with a Range header field.
type RangeOutcome int

const (
	// RangeIgnore: send the whole representation with 200 (no Range, a
	// unit other than bytes, or a malformed field, RFC 9110 §14.2).
	RangeIgnore RangeOutcome = iota
	// RangePartial: send the ranges with 206 (RFC 9110 §15.3.7).
	RangePartial
	// RangeUnsatisfiable: send 416 (RFC 9110 §15.5.17).
	RangeUnsatisfiable
)

// maxRanges bounds how many ranges one request may ask for; more is treated
// as malformed, which a server may do to resist denial of service
// (RFC 9110 §14.2).
const maxRanges = 64

// ParseRange evaluates a Range field value against a representation of
// size bytes (RFC 9110 §14.1.1, §14.2). Satisfiable ranges are returned in
// the order asked, with ranges past the end clipped; a request whose ranges
// overlap or are too many is answered in full (RangeIgnore).
func ParseRange(v string, size int64) ([]ByteRange, RangeOutcome) {
	unit, set, ok := strings.Cut(trimOWS(v), "=")
	if !ok || !strings.EqualFold(trimOWS(unit), "bytes") {
		return nil, RangeIgnore
	}
	var ranges []ByteRange
	specs := strings.Split(set, ",")
	if len(specs) > maxRanges {
		return nil, RangeIgnore
	}
	anySpec := false
	for _, spec := range specs {
		spec = trimOWS(spec)
		if spec == "" {
			continue // empty list elements are allowed (RFC 9110 §5.6.1)
		}
		anySpec = true
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, RangeIgnore
		}
		first, last = trimOWS(first), trimOWS(last)
		var r ByteRange
		switch {
		case first == "":
			// suffix-range: the last n bytes.
			n, ok := digits(last)
			if !ok {
				return nil, RangeIgnore
			}
			if n == 0 || size == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			r = ByteRange{Start: size - n, Length: n}
		default:
			start, ok := digits(first)
			if !ok {
				return nil, RangeIgnore
			}
			end := size - 1
			if last != "" {
				e, ok := digits(last)
				if !ok || e < start {
					return nil, RangeIgnore
				}
				end = min(e, size-1)
			}
			if start >= size {
				continue // unsatisfiable
			}
			r = ByteRange{Start: start, Length: end - start + 1}
		}
		ranges = append(ranges, r)
	}
	if !anySpec {
		return nil, RangeIgnore
	}
	if len(ranges) == 0 {
		return nil, RangeUnsatisfiable
	}
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			a, b := ranges[i], ranges[j]
			if a.Start < b.Start+b.Length && b.Start < a.Start+a.Length {
				return nil, RangeIgnore
			}
		}
	}
	return ranges, RangePartial
}

// digits parses a non-empty string of ASCII digits.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// IfRangeMatches evaluates If-Range against a stored response (RFC 9110
// §13.1.5): an entity tag must match the stored ETag by strong comparison;
// a date must equal the stored Last-Modified, which must itself be strong
// enough (at least a second before Date). Without If-Range it is true.
func IfRangeMatches(req, stored http.Header) bool {
	v := trimOWS(req.Get("If-Range"))
	if v == "" {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		t, ok := parseETag(v)
		current, ok2 := parseETag(stored.Get("ETag"))
		return ok && ok2 && strongMatch(t, current)
	}
	d, ok := ParseDate(v)
	if !ok {
		return false
	}
	lm, ok := headerDate(stored, "Last-Modified")
	if !ok || !lm.Equal(d) {
		return false
	}
	date, ok := headerDate(stored, "Date")
	return ok && date.Sub(lm) >= 1e9
}
