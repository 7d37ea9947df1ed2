package httpcache

import (
	"net/http"
	"strconv"
	"time"
)

// ageValue reads the Age field (RFC 9111 §5.1): a non-negative
// delta-seconds in the first field line; later lines are discarded. It
// reports false when that value is invalid (a list, a sign, a fraction,
// anything but digits), which makes the response stale; the age then
// counts as 0 so that the Age Hoard sends stays sane.
func ageValue(h http.Header) (time.Duration, bool) {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0, true
	}
	d := parseDelta(trimOWS(vs[0]), true)
	if !d.Valid {
		return 0, false
	}
	return d.Value, true
}

// ValidAge reports whether a response's Age field, if any, is valid
// (RFC 9111 §5.1); a response with an invalid one is stale.
func ValidAge(h http.Header) bool {
	_, ok := ageValue(h)
	return ok
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
