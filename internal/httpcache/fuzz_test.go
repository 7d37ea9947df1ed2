package httpcache

import (
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// deltas names the delta-seconds arguments of d.
func deltas(d Directives) map[string]Delta {
	return map[string]Delta{
		"max-age": d.MaxAge, "s-maxage": d.SMaxAge, "max-stale": d.MaxStale, "min-fresh": d.MinFresh,
		"stale-while-revalidate": d.StaleWhileRevalidate, "stale-if-error": d.StaleIfError,
	}
}

// foldFields lower-cases the field-name lists of d, which are compared
// case-insensitively (RFC 9110 §5.1).
func foldFields(d Directives) Directives {
	lower := func(names []string) []string {
		if names == nil {
			return nil
		}
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = strings.ToLower(n)
		}
		return out
	}
	d.NoCacheFields, d.PrivateFields = lower(d.NoCacheFields), lower(d.PrivateFields)
	return d
}

// onlyTokenText reports whether s holds only token characters (RFC 9110
// §5.6.2) and the list and argument punctuation between them, so that
// strings.ToUpper changes only letters and never the structure.
func onlyTokenText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isTchar(c) && c != ',' && c != '=' && c != ' ' && c != '\t' && c != '"' {
			return false
		}
	}
	return true
}

func FuzzParseDirectives(f *testing.F) {
	for _, tt := range parseDirectivesTests {
		f.Add(tt.in)
	}
	f.Add(`"`)                            // a lone quote: a quoted-string where a name belongs
	f.Add(`no-cache="\`)                  // an escape as the very last byte
	f.Add(`=`)                            // an argument without a name
	f.Add(`=,=,=`)                        // only separators
	f.Add("max-age=1\x00")                // NUL is not a digit
	f.Add(`max-age="1\2"`)                // a quoted-pair inside a delta-seconds
	f.Add(`max-age="12"34`)               // junk after a closing quote
	f.Add(`private="a",PRIVATE`)          // a qualified then an unqualified duplicate, upper case
	f.Add("max-age=2147483648")           // exactly 2^31, the cap itself
	f.Add("max-age=18446744073709551616") // 2^64, past uint64
	f.Add("max-age=\u0661\u0662")         // Arabic-Indic digits are not DIGIT
	f.Add("MAX-AGE=1,max-age=2")          // duplicate differing only in case
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDirectives(s)
		for name, v := range deltas(d) {
			if v.Valid && !v.Present {
				t.Errorf("ParseDirectives(%q).%s = %+v: Valid without Present", s, name, v)
			}
			if v.Value < 0 || v.Value > MaxDelta {
				t.Errorf("ParseDirectives(%q).%s = %+v: Value outside [0, MaxDelta]", s, name, v)
			}
			if !v.Valid && v.Value != 0 {
				t.Errorf("ParseDirectives(%q).%s = %+v: an invalid argument has a value", s, name, v)
			}
		}
		for _, field := range append(append([]string(nil), d.NoCacheFields...), d.PrivateFields...) {
			// OWS is SP and HTAB only (RFC 9110 §5.6.3): "\f" is not
			// white space (testdata/fuzz/FuzzParseDirectives/ec990d05fc4ad52f).
			if field == "" || field != strings.Trim(field, " \t") {
				t.Errorf("ParseDirectives(%q) field name %q is empty or has optional white space at an end", s, field)
			}
		}
		if len(d.NoCacheFields) > 0 && !d.NoCache || len(d.PrivateFields) > 0 && !d.Private {
			t.Errorf("ParseDirectives(%q) = %+v: field names without their directive", s, d)
		}

		// Directive names are case-insensitive (RFC 9111 §5.2); for token
		// text upper-casing changes nothing else that matters, field names
		// included (RFC 9110 §5.1).
		if onlyTokenText(s) {
			up := strings.ToUpper(s)
			if got := ParseDirectives(up); !reflect.DeepEqual(foldFields(got), foldFields(d)) {
				t.Errorf("ParseDirectives(%q) = %+v, but ParseDirectives(%q) = %+v", up, got, s, d)
			}
		}

		// A list split over several field lines means the same as one line
		// (RFC 9110 §5.3). Without quotes every comma separates members.
		if !strings.Contains(s, `"`) {
			lines := strings.Split(s, ",")
			got := ParseCacheControl(http.Header{"Cache-Control": lines})
			if !reflect.DeepEqual(got, d) {
				t.Errorf("ParseCacheControl(lines %q) = %+v, but ParseDirectives(%q) = %+v", lines, got, s, d)
			}
		}
	})
}

// dateShapeRE holds the three HTTP-date formats of RFC 9110 §5.6.7 as regular
// expressions: a reference written apart from ParseDate. They match
// case-insensitively, which RFC 9111 §4.2 asks of a cache.
var dateShapeRE = func() []*regexp.Regexp {
	const (
		day   = `(Mon|Tue|Wed|Thu|Fri|Sat|Sun)`
		dayL  = `(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)`
		month = `(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`
		tod   = `[0-9]{2}:[0-9]{2}:[0-9]{2}`
	)
	return []*regexp.Regexp{
		regexp.MustCompile(`(?i)^` + day + `, [0-9]{2} ` + month + ` [0-9]{4} ` + tod + ` GMT$`),
		regexp.MustCompile(`(?i)^` + dayL + `, [0-9]{2}-` + month + `-[0-9]{2} ` + tod + ` GMT$`),
		regexp.MustCompile(`(?i)^` + day + ` ` + month + ` ([0-9]{2}| [0-9]) ` + tod + ` [0-9]{4}$`),
	}
}()

func isHTTPDateShape(s string) bool {
	s = strings.Trim(s, " \t")
	for _, re := range dateShapeRE {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func FuzzParseDate(f *testing.F) {
	for _, tt := range parseDateTests {
		f.Add(tt.in)
	}
	f.Add("Sun, 06 Nov 1994 08:49:37.5 GMT")   // time.Parse alone accepts fractional seconds
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT\x00") // NUL after a valid date
	f.Add("Sun Nov  6 08:49:37 19940")         // five-digit year
	f.Add("Sat, 01 Jan 0000 00:00:00 GMT")     // year zero
	f.Add("Fri, 31 Dec 9999 23:59:59 GMT")     // the last representable IMF-fixdate
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT GMT") // zone twice
	f.Add("Xyz, 06 Nov 1994 08:49:37 GMT")     // letters that are no day name
	f.Add("Sun,\t06 Nov 1994 08:49:37 GMT")    // HTAB where SP belongs
	f.Add("Sunday, 06-Nov-94 08:49:37 GMT")    // seeds the two-digit year
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseDate(s)
		if !ok {
			if !got.IsZero() {
				t.Errorf("ParseDate(%q) = %v, false: want the zero time with false", s, got)
			}
			return
		}
		if !isHTTPDateShape(s) {
			t.Errorf("ParseDate(%q) = %v, true, but it is none of the three formats of RFC 9110 §5.6.7", s, got)
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Errorf("ParseDate(%q) = %v: want whole seconds in UTC", s, got)
		}
		formatted := FormatDate(got)
		back, ok := ParseDate(formatted)
		if !ok || !back.Equal(got) {
			t.Errorf("ParseDate(FormatDate(ParseDate(%q))) = ParseDate(%q) = %v, %v; want %v, true", s, formatted, back, ok, got)
		}
	})
}

// A reference for well-formed If-None-Match values (RFC 9110 §13.1.2):
// "*" alone, or a list of entity-tags (RFC 9110 §8.8.3) with optional white
// space and empty members (RFC 9110 §5.6.1). It covers ASCII only: obs-text
// bytes cannot be written as a Go regexp class.
var (
	entityTagRE = `(W/)?"[\x21\x23-\x7e]*"`
	eTagListRE  = regexp.MustCompile(`^[ \t,]*(` + entityTagRE + `([ \t]*,[ \t,]*` + entityTagRE + `)*)?[ \t,]*$`)
	eTagAnyRE   = regexp.MustCompile(`^[ \t]*\*[ \t]*$`)
	eTagOneRE   = regexp.MustCompile(entityTagRE)
)

// referenceETags parses v with the reference, reporting false when v is not
// a well-formed If-None-Match value.
func referenceETags(v string) (tags []eTag, any, ok bool) {
	if eTagAnyRE.MatchString(v) {
		return nil, true, true
	}
	if !eTagListRE.MatchString(v) {
		return nil, false, false
	}
	for _, m := range eTagOneRE.FindAllString(v, -1) {
		t := eTag{opaque: strings.TrimPrefix(m, "W/")}
		t.weak = len(m) != len(t.opaque)
		tags = append(tags, t)
	}
	return tags, false, true
}

func FuzzSplitETags(f *testing.F) {
	for _, tt := range splitETagsTests {
		f.Add(tt.in)
	}
	f.Add(`W/`)           // the weakness flag with nothing after it
	f.Add(`W/"`)          // an opening quote at the end
	f.Add(`"`)            // a lone quote
	f.Add(`"a" "b"`)      // two tags without a comma: malformed
	f.Add(`W/W/"a"`)      // the flag twice
	f.Add(`"a",*`)        // "*" is valid only alone
	f.Add(`,,, `)         // only empty members
	f.Add("\"\x80\xff\"") // obs-text inside a tag is allowed
	f.Add(`w/"a"`)        // the flag is case-sensitive
	f.Add(`"x"`)          // matches the stored tag below
	f.Fuzz(func(t *testing.T, v string) {
		tags, any := splitETags(v)
		for _, tag := range tags {
			if back, ok := parseETag(tag.opaque); !ok || back.weak {
				t.Errorf("splitETags(%q) returned %+v, whose opaque tag does not parse as a strong entity-tag", v, tag)
			}
		}
		want, wantAny, ok := referenceETags(v)
		if !ok {
			return
		}
		if !reflect.DeepEqual(tags, want) || any != wantAny {
			t.Errorf("splitETags(%q) = %+v, %v; the reference gives %+v, %v", v, tags, any, want, wantAny)
		}
		// NotModified agrees with a weak comparison against the same list
		// (RFC 9110 §13.1.2).
		wantNM := wantAny
		for _, tag := range want {
			wantNM = wantNM || tag.opaque == `"x"`
		}
		req := http.Header{"If-None-Match": {v}}
		if got := NotModified(req, hdr("ETag", `W/"x"`)); got != wantNM {
			t.Errorf("NotModified(If-None-Match: %s, ETag: W/\"x\") = %v, want %v", v, got, wantNM)
		}
	})
}
