package httpcache

import "testing"

// allReasons lists every Reason but ReasonNone. Add new reasons here.
var allReasons = []Reason{
	ReasonMethod, ReasonStatus, ReasonRequestNoStore, ReasonNoStore, ReasonPrivate, ReasonAuthorization,
	ReasonMustUnderstand, ReasonNoFreshness, ReasonVaryStar, ReasonVaryTooMany, ReasonPartial, ReasonTooLarge,
	ReasonRequestNoCache, ReasonNoCache, ReasonStale, ReasonRequestMaxAge, ReasonRequestMinFresh,
	ReasonMaxStale, ReasonFresh, ReasonUncacheable, ReasonRequestBody,
}

// isSFToken reports whether s is a Structured Field token (RFC 8941 §3.3.4):
// ( ALPHA / "*" ) *( tchar / ":" / "/" ).
func isSFToken(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isTchar(s[i]) && s[i] != ':' && s[i] != '/' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case isAlpha(c), c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func TestReasonsAreTokens(t *testing.T) {
	t.Parallel()
	seen := make(map[Reason]bool)
	for _, r := range allReasons {
		// The detail parameter of Cache-Status is a token or a string
		// (RFC 9211 §2.8); CacheStatus.String writes it bare.
		if !isSFToken(string(r)) {
			t.Errorf("Reason %q is not a Structured Field token (RFC 8941 §3.3.4), so detail=%s is malformed", r, r)
		}
		if seen[r] {
			t.Errorf("Reason %q appears twice: metrics labels and Cache-Status details would merge", r)
		}
		seen[r] = true
	}
	if ReasonNone != "" {
		t.Errorf("ReasonNone = %q, want empty: CacheStatus.String omits an empty detail", ReasonNone)
	}
}
