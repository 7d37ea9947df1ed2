package explain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// This file writes the lines: one rule each, in the words an operator
// reads, with the section that states the rule at the end.

// storage says whether the response is stored and why, or why not and what
// the origin could change (RFC 9111 §3).
func (e *explainer) storage(storable bool) []Line {
	if !storable {
		why, fix := e.notStored()
		return []Line{{"not-stored", "not stored: " + why}, {"fix", "to cache it: " + fix}}
	}
	verb := "stored"
	if !e.r.Stored {
		verb = "storable (explain did not store it; the next request will)"
	}
	because, section := "it states its lifetime ("+e.source.String()+")", "RFC 9111 §3"
	switch {
	case httpcache.HasExplicitFreshness(e.r.Header, e.cc):
	case e.cc.Public:
		because, section = "it is public", "RFC 9111 §3, §5.2.2.9"
	default:
		because = fmt.Sprintf("status %d may be given a heuristic lifetime", e.r.Status)
		section = "RFC 9111 §3, RFC 9110 §15.1"
	}
	return []Line{{"stored", fmt.Sprintf("%s: a GET answered %d, nothing forbids storing it, and %s (%s)",
		verb, e.r.Status, because, section)}}
}

// notStored says why a response is not stored, and a specific change at
// the origin that would have it stored.
func (e *explainer) notStored() (why, fix string) {
	status := e.r.Status
	switch e.r.NotStored {
	case httpcache.ReasonStatus:
		if status < 200 || status == 206 || status == 304 {
			return fmt.Sprintf("status %d is not a complete response (RFC 9111 §3)", status),
				"answer a plain GET with the whole response (200)"
		}
		return fmt.Sprintf("status %d states no lifetime (no s-maxage, max-age or Expires), is not public, and may not be given a heuristic one (RFC 9111 §3, RFC 9110 §15.1)", status),
			fmt.Sprintf("send Cache-Control: max-age=N (or s-maxage=N) with the %d", status)
	case httpcache.ReasonNoStore:
		return "Cache-Control: no-store (RFC 9111 §5.2.2.5)",
			"drop no-store; to have every use checked with the origin, send no-cache and an ETag instead"
	case httpcache.ReasonRequestNoStore:
		return "the request said Cache-Control: no-store (RFC 9111 §5.2.1.5)",
			"nothing at the origin: the same request without no-store is stored"
	case httpcache.ReasonPrivate:
		return "Cache-Control: private, which is for one user's own cache, never a shared one (RFC 9111 §5.2.2.7)",
			`if it is the same for every user, send Cache-Control: public, max-age=N instead; if only some fields are personal, name them: private="Set-Cookie"`
	case httpcache.ReasonAuthorization:
		return "the request carried Authorization, and the response has none of public, s-maxage, must-revalidate (RFC 9111 §3.5)",
			"if it is the same for every authorised user, add Cache-Control: public (or s-maxage=N)"
	case httpcache.ReasonMustUnderstand:
		return fmt.Sprintf("must-understand with status %d, whose caching rules Hoard does not implement (RFC 9111 §5.2.2.3)", status),
			"drop must-understand, or answer with a status Hoard understands (200, 301, 404...)"
	case httpcache.ReasonVaryStar:
		return "Vary: *, which no later request can match (RFC 9111 §4.1)",
			"name the request fields the response depends on instead, such as Vary: Accept-Encoding"
	case httpcache.ReasonVaryTooMany:
		return fmt.Sprintf("Vary names %d fields, more than the %d Hoard keys on (RFC 9111 §4.1)", len(httpcache.VaryNames(e.r.Header)), httpcache.MaxVaryNames),
			"vary on fewer fields"
	case httpcache.ReasonNoFreshness:
		return "it has no freshness lifetime and no validator (ETag, Last-Modified), so it could never be reused (RFC 9111 §4.2, §4.3.1)",
			"send Cache-Control: max-age=N, or an ETag or Last-Modified so that Hoard can revalidate it"
	case httpcache.ReasonTooLarge:
		size := "its body"
		if e.r.Size >= 0 {
			size = fmt.Sprintf("its body (%d bytes)", e.r.Size)
		}
		return fmt.Sprintf("%s is larger than --max-object-size (%d bytes)", size, e.p.MaxObjectSize),
			"raise --max-object-size above the body's size, or make the body smaller"
	}
	return string(e.r.NotStored), "see the reason above"
}

// freshness says the lifetime and the rule that gave it, the age, and
// whether the response is fresh, until when (RFC 9111 §4.2).
func (e *explainer) freshness(storable bool) []Line {
	rule := e.lifetimeRule()
	age := fmt.Sprintf("age %s (§4.2.3)", human(e.d.Age))
	// The time left is written as the whole seconds of the lifetime less
	// those of the age, so that the two numbers on the line add up.
	left := time.Duration(seconds(e.lifetime.Duration)-seconds(e.d.Age)) * time.Second
	var text string
	switch {
	case !storable:
		text = fmt.Sprintf("would be fresh for %s: %s", human(e.lifetime.Duration), rule)
	case !e.d.Stale:
		text = fmt.Sprintf("fresh for %s more (until %s): %s, %s", human(left), clock(e.now.Add(e.d.TTL())), rule, age)
	default:
		text = fmt.Sprintf("stale for %s (since %s): %s, %s", human(-left), clock(e.now.Add(e.d.TTL())), rule, age)
	}
	lines := []Line{{"freshness", text}}
	if e.cc.NoCache && len(e.cc.NoCacheFields) == 0 {
		lines = append(lines, Line{"freshness", "no-cache: every use is validated with the origin first, fresh or not (RFC 9111 §5.2.2.4)"})
	}
	if storable && e.r.Stored {
		lines = append(lines, e.next())
	}
	return lines
}

// lifetimeRule says which rule gave the freshness lifetime (RFC 9111
// §4.2.1), and with which value.
func (e *explainer) lifetimeRule() string {
	from := ""
	if e.cc.Targeted {
		from = " in CDN-Cache-Control (RFC 9213)"
	}
	section := "(" + e.source.Section() + ")"
	switch e.source {
	case httpcache.SourceSMaxAge, httpcache.SourceMaxAge:
		name, delta := "max-age", e.cc.MaxAge
		if e.source == httpcache.SourceSMaxAge {
			name, delta = "s-maxage", e.cc.SMaxAge
		}
		if !delta.Valid {
			return fmt.Sprintf("%s with an invalid value%s, which makes it stale (RFC 9111 §4.2.1)", name, from)
		}
		return fmt.Sprintf("%s=%d%s %s", name, seconds(delta.Value), from, section)
	case httpcache.SourceExpires:
		return fmt.Sprintf("Expires minus Date, %s %s", human(e.lifetime.Duration), section)
	case httpcache.SourceInvalidExpires:
		return fmt.Sprintf("Expires %q is not one valid date, so it is already expired %s", e.r.Header.Get("Expires"), section)
	case httpcache.SourceHeuristic:
		return fmt.Sprintf("heuristic, 10%% of the %s since Last-Modified %s", e.sinceLastModified(), section)
	case httpcache.SourceHeuristicCapped:
		return fmt.Sprintf("heuristic, 10%% of the %s since Last-Modified, capped by --heuristic-max %s %s",
			e.sinceLastModified(), human(e.p.HeuristicMax), section)
	case httpcache.SourceNoLastModified:
		return fmt.Sprintf("no lifetime stated, and no Last-Modified before Date to base a heuristic on %s", section)
	}
	return fmt.Sprintf("no s-maxage, max-age or Expires, and status %d gets no heuristic lifetime %s", e.r.Status, section)
}

// sinceLastModified is how long before Date (or the response time) the
// response says it was last modified: what a heuristic lifetime is the
// tenth of (RFC 9111 §4.2.2). It is written out for the reader only.
func (e *explainer) sinceLastModified() string {
	date, ok := httpcache.ParseDate(e.r.Header.Get("Date"))
	if !ok {
		date = e.r.ResponseTime
	}
	lastModified, _ := httpcache.ParseDate(e.r.Header.Get("Last-Modified"))
	return human(date.Sub(lastModified))
}

// next says what the next request without Cache-Control of its own gets
// (RFC 9111 §4; RFC 5861 §3).
func (e *explainer) next() Line {
	switch {
	case e.d.Action == httpcache.Serve:
		return Line{"next", "the next request is a hit, served from the store (RFC 9111 §4.2)"}
	case e.d.Reason == httpcache.ReasonStale && httpcache.StaleWhileRevalidate(e.cc, -e.d.TTL()):
		return Line{"next", "the next request is served stale, and revalidates it in the background (RFC 5861 §3)"}
	case httpcache.HasValidator(e.r.Header):
		return Line{"next", "the next request goes to the origin to revalidate it (RFC 9111 §4.3)"}
	}
	return Line{"next", "the next request fetches it again from the origin: it has no validator (RFC 9111 §4.3.1)"}
}

// validators says what a revalidation sends (RFC 9111 §4.3.1).
func (e *explainer) validators(ifNoneMatch, ifModifiedSince string) Line {
	var with []string
	if ifNoneMatch != "" {
		with = append(with, "If-None-Match: "+ifNoneMatch+" (its ETag)")
	}
	if ifModifiedSince != "" {
		with = append(with, "If-Modified-Since: "+ifModifiedSince+" (its Last-Modified)")
	}
	if len(with) == 0 {
		return Line{"validators", "no validator (ETag, Last-Modified): once stale it is fetched again in full (RFC 9111 §4.3.1)"}
	}
	return Line{"validators", "revalidates with " + strings.Join(with, " and ") + " (RFC 9111 §4.3.1)"}
}

// staleSections are where the directives that forbid serving stale are
// defined.
var staleSections = map[string]string{
	"must-revalidate":  "RFC 9111 §5.2.2.2",
	"proxy-revalidate": "RFC 9111 §5.2.2.8",
	"s-maxage":         "RFC 9111 §5.2.2.10",
	"no-cache":         "RFC 9111 §5.2.2.4",
}

// stale says which stale allowances apply, or what forbids them (RFC 9111
// §4.2.4; RFC 5861).
func (e *explainer) stale() []Line {
	if by := httpcache.StaleForbiddenBy(e.cc); by != "" {
		return []Line{{"stale", fmt.Sprintf("never served stale: %s (%s) overrides stale-while-revalidate, stale-if-error and --stale-if-error (RFC 9111 §4.2.4)",
			by, staleSections[by])}}
	}
	staleness := -e.d.TTL()
	now := func(within bool) string {
		if !e.d.Stale || !e.r.Stored {
			return ""
		}
		if within {
			return "; it is within it now"
		}
		return "; it is past it now"
	}
	var swr Line
	if v := e.cc.StaleWhileRevalidate; v.Valid && v.Value > 0 {
		swr = Line{"stale-while-revalidate", fmt.Sprintf("stale-while-revalidate=%d: for %s after it goes stale, it is served while revalidated in the background%s (RFC 5861 §3)",
			seconds(v.Value), human(v.Value), now(httpcache.StaleWhileRevalidate(e.cc, staleness)))}
	} else {
		swr = Line{"stale-while-revalidate", "no stale-while-revalidate: once stale, a request waits for the revalidation (RFC 5861 §3)"}
	}
	var allowance string
	switch {
	case e.cc.StaleIfError.Valid:
		allowance = fmt.Sprintf("stale-if-error=%d", seconds(e.cc.StaleIfError.Value))
	case e.p.StaleIfError > 0:
		allowance = "no stale-if-error of its own; the --stale-if-error default " + human(e.p.StaleIfError)
	default:
		return []Line{swr, {"stale-if-error", "no stale-if-error, and --stale-if-error is 0: an origin error or 5xx reaches the client (RFC 5861 §4)"}}
	}
	allowed := e.staleIfError()
	sie := Line{"stale-if-error", fmt.Sprintf("%s: served up to %s stale when the origin fails or answers 500, 502, 503 or 504%s (RFC 5861 §4)",
		allowance, human(allowed), now(httpcache.StaleIfError(e.cc, httpcache.Directives{}, staleness, e.p.StaleIfError)))}
	return []Line{swr, sie}
}

// tags says which tags purge the response.
func (e *explainer) tags() Line {
	if len(e.r.Tags) == 0 {
		return Line{"tags", "no tags (Surrogate-Key, Cache-Tag): purge it by its URL"}
	}
	quoted := make([]string, len(e.r.Tags))
	for i, t := range e.r.Tags {
		quoted[i] = strconv.Quote(t)
	}
	return Line{"tags", fmt.Sprintf("purged by the tags %s (Surrogate-Key, Cache-Tag): POST /_hoard/purge {\"tags\":[%s]}",
		strings.Join(e.r.Tags, ", "), strings.Join(quoted, ","))}
}

// vary says the fields the response varies on and the request values that
// select it (RFC 9111 §4.1).
func (e *explainer) vary(names []string, fields []Field) Line {
	if len(names) == 0 {
		return Line{"vary", "no Vary: it answers every request for the URL (RFC 9111 §4.1)"}
	}
	text := "varies on " + strings.Join(names, ", ")
	if len(fields) > 0 {
		selected := make([]string, len(fields))
		for i, f := range fields {
			if f.Absent {
				selected[i] = "no " + f.Name
			} else {
				selected[i] = f.Name + ": " + f.Value
			}
		}
		text += "; selected by requests with " + strings.Join(selected, ", ")
	}
	return Line{"vary", text + " (RFC 9111 §4.1)"}
}

// human writes a duration in whole seconds, without trailing zero units:
// 42s, 1m30s, 1m, 24h.
func human(d time.Duration) string {
	s := d.Truncate(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// clock writes a time for the lines: UTC, to the second.
func clock(t time.Time) string { return t.UTC().Format(time.RFC3339) }
