package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ageValue reads the Age field (RFC 9111 §5.1): the first member of the
// first field line, a non-negative delta-seconds; the rest is discarded. An
// invalid value (a sign, a fraction, a parameter) is ignored: it counts as
// 0 and ageValue reports false.
func ageValue(h http.Header) (time.Duration, bool) {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0, true
	}
	v, _, _ := strings.Cut(vs[0], ",") // a list: the first member counts
	d := parseDelta(trimOWS(v), true)
	if !d.Valid {
		return 0, false // invalid: ignored (RFC 9111 §5.1), i.e. age 0
	}
	return d.Value, true
}

// CurrentAge computes the age of a stored response at now (RFC 9111 §4.2.3):
//
//	apparent_age = max(0, response_time - date_value)
//	response_delay = response_time - request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//	resident_time = now - response_time
//	current_age = corrected_initial_age + resident_time
func CurrentAge(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	var apparentAge time.Duration
	if date, ok := headerDate(h, "Date"); ok {
		apparentAge = max(0, responseTime.Sub(date))
	}
	responseDelay := max(0, responseTime.Sub(requestTime))
	ageVal, _ := ageValue(h)
	correctedAgeValue := ageVal + responseDelay
	correctedInitialAge := max(apparentAge, correctedAgeValue)
	residentTime := max(0, now.Sub(responseTime))
	return correctedInitialAge + residentTime
}

// FormatAge formats an age for the Age field: whole seconds, rounded down,
// capped at MaxDelta (RFC 9111 §5.1).
func FormatAge(age time.Duration) string {
	if age < 0 {
		age = 0
	}
	if age > MaxDelta {
		age = MaxDelta
	}
	return strconv.FormatInt(int64(age/time.Second), 10)
}
