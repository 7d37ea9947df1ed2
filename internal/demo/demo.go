// Package demo is a small built-in sample origin for trying Hoard (hoard
// serve --demo): a handful of paths whose responses show a cache miss and
// hit, a response that must not be stored, revalidation, variants and a
// large body.
//
// It stands in for an origin that knows nothing of Hoard, so it imports no
// other Hoard package and has no caching logic of its own: it only sets the
// headers an ordinary server would. Each response carries a per-path counter
// ("response #3") so that a reader of curl output can tell a cached answer
// from a fresh one.
package demo

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowDelay is how long /slow waits before answering.
const slowDelay = time.Second

// largeSize is the length, in bytes, of the body of /large.
const largeSize = 4 << 20

// paths lists what the index shows, in order.
var paths = []struct{ path, about string }{
	{"/cached", "Cache-Control: max-age=60, with ETag and Last-Modified; a hit repeats the response number"},
	{"/no-store", "Cache-Control: no-store; never stored, every request reaches the origin"},
	{"/private", "Cache-Control: private, max-age=60; a shared cache such as Hoard must not store it"},
	{"/etag", "Cache-Control: no-cache with a fixed ETag; stored, but revalidated each time (304)"},
	{"/vary", "Vary: Accept-Language, max-age=60; one stored variant per language (try -H 'Accept-Language: fr')"},
	{"/slow", "waits 1s, then max-age=30; the second request is instant"},
	{"/large", "a 4 MiB body, the same bytes every time, max-age=300"},
}

// origin holds the response counters, one per path.
type origin struct {
	cached, noStore, private, vary, slow atomic.Int64
}

// Handler returns the sample origin. Each call returns an origin with its
// own counters.
func Handler() http.Handler {
	o := &origin{}
	mux := http.NewServeMux()
	// A GET pattern also matches HEAD; other methods get 405.
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /cached", o.serveCached)
	mux.HandleFunc("GET /no-store", o.serveNoStore)
	mux.HandleFunc("GET /private", o.servePrivate)
	mux.HandleFunc("GET /etag", serveETag)
	mux.HandleFunc("GET /vary", o.serveVary)
	mux.HandleFunc("GET /slow", o.serveSlow)
	mux.HandleFunc("GET /large", serveLarge)
	return mux
}

func index(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("Hoard demo origin. Request these paths through the proxy and watch the Cache-Status header:\n\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %-10s %s\n", p.path, p.about)
	}
	w.Header().Set("Cache-Control", "max-age=5")
	writeText(w, b.String())
}

// serveCached is an ordinary cacheable response. http.ServeContent answers
// If-None-Match and If-Modified-Since (RFC 9110 §13.1) and Range requests.
func (o *origin) serveCached(w http.ResponseWriter, r *http.Request) {
	n := o.cached.Add(1)
	now := time.Now()
	body := fmt.Sprintf("cached response #%d, generated at %s\n"+
		"Repeat within 60 seconds: Hoard answers from its store and the number stays the same.\n",
		n, now.UTC().Format(time.RFC3339Nano))
	h := w.Header()
	h.Set("Cache-Control", "max-age=60")
	h.Set("ETag", fmt.Sprintf(`"cached-%d"`, n))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", now, strings.NewReader(body))
}

func (o *origin) serveNoStore(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeText(w, fmt.Sprintf("no-store response #%d: every request reaches the origin\n", o.noStore.Add(1)))
}

func (o *origin) servePrivate(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, max-age=60")
	writeText(w, fmt.Sprintf("private response #%d: a browser may keep this, a shared cache may not\n", o.private.Add(1)))
}

// etagBody never changes, so its validator never does: every revalidation
// of /etag is answered 304 Not Modified.
const etagBody = "This body never changes. Hoard must ask the origin before each reuse (no-cache),\n" +
	"and the origin answers 304 Not Modified, so the body is sent once.\n"

func serveETag(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"etag-v1"`)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(etagBody))
}

// greetings are the languages /vary speaks, by primary language subtag.
var greetings = map[string]string{
	"de": "Hallo",
	"en": "Hello",
	"es": "Hola",
	"fr": "Bonjour",
	"ja": "Konnichiwa",
}

// serveVary answers in the first language of Accept-Language it knows,
// ignoring weights: enough to show one stored variant per header value.
func (o *origin) serveVary(w http.ResponseWriter, r *http.Request) {
	lang, greeting := "en", greetings["en"]
	for _, tag := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ = strings.Cut(tag, ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if g, ok := greetings[primary]; ok {
			lang, greeting = primary, g
			break
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "max-age=60")
	h.Set("Vary", "Accept-Language")
	h.Set("Content-Language", lang)
	writeText(w, fmt.Sprintf("%s! (variant %q, response #%d)\n", greeting, lang, o.vary.Add(1)))
}

// serveSlow waits slowDelay, or until the client goes away.
func (o *origin) serveSlow(w http.ResponseWriter, r *http.Request) {
	t := time.NewTimer(slowDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return // nobody is left to answer
	}
	w.Header().Set("Cache-Control", "max-age=30")
	writeText(w, fmt.Sprintf("slow response #%d: the origin took %s, a hit takes none of it\n", o.slow.Add(1), slowDelay))
}

// largeBody is built on first use: largeSize bytes of numbered 64-byte lines,
// identical in every process.
var largeBody = sync.OnceValue(func() []byte {
	const lineLen = 64
	var b bytes.Buffer
	b.Grow(largeSize)
	for i := range largeSize / lineLen {
		line := fmt.Sprintf("hoard demo large body, line %07d of %d", i+1, largeSize/lineLen)
		b.WriteString(line)
		b.WriteString(strings.Repeat(".", lineLen-1-len(line)))
		b.WriteByte('\n')
	}
	return b.Bytes()
})

func serveLarge(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "max-age=300")
	h.Set("ETag", `"large-v1"`)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(largeBody()))
}

func writeText(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// An error here means the client went away; an origin has no one to tell.
	_, _ = w.Write([]byte(body))
}
