package httpcache

import (
	"net/http"
	"testing"
)

func TestConditionalHeaders(t *testing.T) {
	t.Parallel()
	lm := "Wed, 01 Jan 2020 00:00:00 GMT"
	tests := []struct {
		name     string
		selected http.Header
		others   []http.Header
		wantINM  string
		wantIMS  string
	}{
		{"ETag sent exactly as stored (RFC 9111 §4.3.1)",
			hdr("ETag", `"abc"`), nil, `"abc"`, ""},
		{"weak ETag sent exactly as stored (RFC 9111 §4.3.1)",
			hdr("ETag", `W/"abc"`), nil, `W/"abc"`, ""},
		{"Last-Modified sent exactly as stored (RFC 9110 §13.1.3)",
			hdr("Last-Modified", lm), nil, "", lm},
		{"obsolete-format Last-Modified sent exactly as stored (RFC 9110 §13.1.3)",
			hdr("Last-Modified", "Wednesday, 01-Jan-20 00:00:00 GMT"), nil, "", "Wednesday, 01-Jan-20 00:00:00 GMT"},
		{"invalid Last-Modified not sent (RFC 9110 §13.1.3)",
			hdr("Last-Modified", "yesterday"), nil, "", ""},
		{"both validators (RFC 9111 §4.3.1)",
			hdr("ETag", `"abc"`, "Last-Modified", lm), nil, `"abc"`, lm},
		{"every stored variant's ETag sent, duplicates once (RFC 9111 §4.3.1)",
			hdr("ETag", `"a"`), []http.Header{hdr("ETag", `"b"`), hdr("ETag", `"a"`), hdr(), nil, hdr("ETag", `W/"c"`)},
			`"a", "b", W/"c"`, ""},
		{"If-Modified-Since from the selected response only (RFC 9111 §4.3.1)",
			hdr("ETag", `"a"`), []http.Header{hdr("Last-Modified", lm)}, `"a"`, ""},
		{"no selected response (RFC 9111 §4.3.1)",
			nil, []http.Header{hdr("ETag", `"b"`, "Last-Modified", lm)}, `"b"`, ""},
		{"no validators (RFC 9111 §4.3.1)",
			hdr("Content-Type", "text/plain"), nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inm, ims := ConditionalHeaders(tt.selected, tt.others...)
			if inm != tt.wantINM || ims != tt.wantIMS {
				t.Errorf("ConditionalHeaders(%s, %d others) = %q, %q; want %q, %q",
					show(tt.selected), len(tt.others), inm, ims, tt.wantINM, tt.wantIMS)
			}
		})
	}
}

func TestSelectFor304(t *testing.T) {
	t.Parallel()
	lm1 := "Wed, 01 Jan 2020 00:00:00 GMT"
	lm2 := "Thu, 02 Jan 2020 00:00:00 GMT"
	tests := []struct {
		name       string
		resp       http.Header
		candidates []http.Header
		want       int
	}{
		{"strong ETag selects the stored response with it (RFC 9111 §4.3.4)",
			hdr("ETag", `"b"`), []http.Header{hdr("ETag", `"a"`), hdr("ETag", `"b"`)}, 1},
		{"strong ETag matching none updates nothing (RFC 9111 §4.3.4)",
			hdr("ETag", `"c"`), []http.Header{hdr("ETag", `"a"`), hdr("ETag", `"b"`)}, -1},
		// RFC 9111 §4.3.4: "If none of the stored responses contain at least
		// one of the same strong validators, then the cache MUST NOT use the
		// new response to update any stored responses."
		{"strong ETag does not select a weak one with the same opaque tag (RFC 9111 §4.3.4)",
			hdr("ETag", `"a"`), []http.Header{hdr("ETag", `W/"a"`)}, -1},
		{"weak ETag selects the stored response with it (RFC 9111 §4.3.4)",
			hdr("ETag", `W/"b"`), []http.Header{hdr("ETag", `W/"a"`), hdr("ETag", `W/"b"`)}, 1},
		{"weak ETag selects a strong one with the same opaque tag (RFC 9111 §4.3.4, RFC 9110 §8.8.3.2)",
			hdr("ETag", `W/"a"`), []http.Header{hdr("ETag", `"b"`), hdr("ETag", `"a"`)}, 1},
		{"weak ETag matching none updates nothing (RFC 9111 §4.3.4)",
			hdr("ETag", `W/"c"`), []http.Header{hdr("ETag", `W/"a"`)}, -1},
		{"invalid ETag updates nothing (RFC 9111 §4.3.4)",
			hdr("ETag", "unquoted"), []http.Header{hdr("ETag", "unquoted")}, -1},
		{"Last-Modified selects the stored response with it (RFC 9111 §4.3.4)",
			hdr("Last-Modified", lm2), []http.Header{hdr("Last-Modified", lm1), hdr("Last-Modified", lm2)}, 1},
		{"Last-Modified matching none updates nothing (RFC 9111 §4.3.4)",
			hdr("Last-Modified", lm2), []http.Header{hdr("Last-Modified", lm1)}, -1},
		{"no validators, one stored response without validators (RFC 9111 §4.3.4)",
			hdr("Cache-Control", "max-age=60"), []http.Header{hdr("Content-Type", "text/plain")}, 0},
		// A 304 without validators to a validation built from the one
		// stored response refreshes it (RFC 9111 §4.3.3); see SelectFor304.
		{"no validators, the one stored response validated has an ETag (RFC 9111 §4.3.3)",
			hdr("Cache-Control", "max-age=60"), []http.Header{hdr("ETag", `"a"`)}, 0},
		{"no validators, the one stored response validated has Last-Modified (RFC 9111 §4.3.3)",
			hdr("Cache-Control", "max-age=60"), []http.Header{hdr("Last-Modified", lm1)}, 0},
		{"no validators, two stored responses (RFC 9111 §4.3.4)",
			hdr(), []http.Header{hdr(), hdr()}, -1},
		{"no stored responses (RFC 9111 §4.3.4)",
			hdr("ETag", `"a"`), nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cands []string
			for _, c := range tt.candidates {
				cands = append(cands, "{"+show(c)+"}")
			}
			if got := SelectFor304(tt.resp, tt.candidates); got != tt.want {
				t.Errorf("SelectFor304(%s, %v) = %d, want %d", show(tt.resp), cands, got, tt.want)
			}
		})
	}
}

func TestUpdateStoredHeader(t *testing.T) {
	t.Parallel()
	lm := "Wed, 01 Jan 2020 00:00:00 GMT"
	tests := []struct {
		name   string
		stored http.Header
		fresh  http.Header
		want   http.Header
	}{
		{"304 fields replace stored ones (RFC 9111 §3.2)",
			hdr("Cache-Control", "max-age=60", "Date", "Wed, 01 Jan 2020 00:00:00 GMT", "ETag", `"a"`, "Content-Type", "text/plain"),
			hdr("Cache-Control", "max-age=600", "Date", "Thu, 02 Jan 2020 00:00:00 GMT", "ETag", `"a"`),
			hdr("Cache-Control", "max-age=600", "Date", "Thu, 02 Jan 2020 00:00:00 GMT", "ETag", `"a"`, "Content-Type", "text/plain")},
		{"all lines of a field replaced together (RFC 9111 §3.2)",
			hdr("X-Multi", "1", "X-Multi", "2"),
			hdr("X-Multi", "3"),
			hdr("X-Multi", "3")},
		{"new fields added (RFC 9111 §3.2)",
			hdr("ETag", `"a"`),
			hdr("ETag", `"a"`, "Expires", lm),
			hdr("ETag", `"a"`, "Expires", lm)},
		{"Content-Length kept (RFC 9111 §3.2)",
			hdr("Content-Length", "1000", "ETag", `"a"`),
			hdr("Content-Length", "0", "ETag", `"a"`),
			hdr("Content-Length", "1000", "ETag", `"a"`)},
		{"connection-specific fields not stored (RFC 9111 §3.1)",
			hdr("ETag", `"a"`),
			hdr("Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "Proxy-Authenticate", "Basic", "ETag", `"a"`),
			hdr("ETag", `"a"`)},
		{"stored Age dropped when the 304 has none (RFC 9111 §4.2.3)",
			hdr("Age", "100", "ETag", `"a"`),
			hdr("ETag", `"a"`),
			hdr("ETag", `"a"`)},
		{"Age of the 304 kept (RFC 9111 §4.2.3)",
			hdr("Age", "100", "ETag", `"a"`),
			hdr("Age", "5", "ETag", `"a"`),
			hdr("Age", "5", "ETag", `"a"`)},
		{"Set-Cookie of the 304 not stored (unsharedFields)",
			hdr("ETag", `"a"`),
			hdr("Set-Cookie", "session=2", "ETag", `"a"`),
			hdr("ETag", `"a"`)},
		{"Set-Cookie stored by an older Hoard dropped (unsharedFields)",
			hdr("Set-Cookie", "session=1", "ETag", `"a"`),
			hdr("ETag", `"a"`),
			hdr("ETag", `"a"`)},
		// RFC 9111 §3.2 excepts from the update the "Header fields excepted
		// from storage in Section 3.1", which include those that a private
		// directive names (RFC 9111 §5.2.2.7).
		{"fields named by the 304's qualified private not stored (RFC 9111 §3.1, §5.2.2.7)",
			hdr("ETag", `"a"`),
			hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "Set-Cookie", "session=1", "ETag", `"a"`),
			hdr("Cache-Control", `private="Set-Cookie", max-age=60`, "ETag", `"a"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storedBefore, freshBefore := show(tt.stored), show(tt.fresh)
			got := UpdateStoredHeader(tt.stored, tt.fresh)
			if show(got) != show(tt.want) {
				t.Errorf("UpdateStoredHeader(%s, %s) = %s, want %s", storedBefore, freshBefore, show(got), show(tt.want))
			}
			if show(tt.stored) != storedBefore || show(tt.fresh) != freshBefore {
				t.Errorf("UpdateStoredHeader modified its inputs: stored %s, was %s; 304 %s, was %s",
					show(tt.stored), storedBefore, show(tt.fresh), freshBefore)
			}
			for _, vs := range got {
				for i := range vs {
					vs[i] = "changed"
				}
			}
			if show(tt.stored) != storedBefore || show(tt.fresh) != freshBefore {
				t.Errorf("UpdateStoredHeader result shares storage with its inputs: stored %s, was %s; 304 %s, was %s",
					show(tt.stored), storedBefore, show(tt.fresh), freshBefore)
			}
		})
	}
}
