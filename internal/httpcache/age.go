package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ageValue reads the Age field (RFC 9111 §5.1): a non-negative
// delta-seconds. A missing or invalid Age counts as 0; when the field
// appears more than once the first valid value is used.
func ageValue(h http.Header) time.Duration {
	for _, v := range h.Values("Age") {
		v = trimOWS(v)
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = trimOWS(v[:i])
		}
		d := parseDelta(v, true)
		if d.Valid {
			return d.Value
		}
		return 0
	}
	return 0
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
	correctedAgeValue := ageValue(h) + responseDelay
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
