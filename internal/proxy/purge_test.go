package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

func tagged(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=600")
	switch {
	case strings.HasPrefix(r.URL.Path, "/a/"):
		w.Header().Set("Surrogate-Key", "red blue")
	case strings.HasPrefix(r.URL.Path, "/b/"):
		w.Header().Set("Cache-Tag", "green, blue")
	}
	fmt.Fprint(w, r.URL.Path)
}

func TestPurgeMethod(t *testing.T) {
	h := newHarness(t, tagged)
	h.get("/a/1")
	h.get("/a/1").expect(t, 200, "/a/1", "hoard; hit")
	h.do("PURGE", "/a/1").expect(t, 200, `{"purged":1}`+"\n", "hoard; fwd=bypass; detail=purge")
	h.get("/a/1").expect(t, 200, "/a/1", "hoard; fwd=uri-miss")
}

func TestPurgeMethodForbidden(t *testing.T) {
	h := newHarness(t, tagged, func(o *Options) {
		o.PurgeAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	h.get("/a/1")
	h.do("PURGE", "/a/1").expect(t, 403, "", "hoard; fwd=bypass; detail=purge")
	h.get("/a/1").expect(t, 200, "/a/1", "hoard; hit")
}

func TestPurgeByURLPrefixAndTag(t *testing.T) {
	h := newHarness(t, tagged)
	for _, p := range []string{"/a/1", "/a/2", "/b/1", "/c/1"} {
		h.get(p)
	}
	base := h.front.URL
	n, err := h.proxy.Purge(t.Context(), Purge{Tags: []string{"green"}})
	if err != nil || n != 1 {
		t.Errorf("purge tag green: %d, %v; want 1", n, err)
	}
	h.get("/b/1").expect(t, 200, "/b/1", "hoard; fwd=uri-miss")
	h.get("/a/1").expect(t, 200, "/a/1", "hoard; hit")
	n, err = h.proxy.Purge(t.Context(), Purge{Prefixes: []string{base + "/a/"}})
	if err != nil || n != 2 {
		t.Errorf("purge prefix /a/: %d, %v; want 2", n, err)
	}
	h.get("/a/2").expect(t, 200, "/a/2", "hoard; fwd=uri-miss")
	n, err = h.proxy.Purge(t.Context(), Purge{URLs: []string{base + "/c/1"}})
	if err != nil || n != 1 {
		t.Errorf("purge URL: %d, %v; want 1", n, err)
	}
	h.get("/c/1").expect(t, 200, "/c/1", "hoard; fwd=uri-miss")
	if _, err := h.proxy.Purge(t.Context(), Purge{URLs: []string{"/relative"}}); !errors.Is(err, ErrBadPurge) {
		t.Errorf("purge of a relative URL: %v, want ErrBadPurge", err)
	}
}

// TestPurgeDuringFetchWins: a PURGE that arrives while the origin is
// still answering, before the response's header or while its body comes
// in, is not undone when the response completes.
func TestPurgeDuringFetchWins(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beforeBlock string // what the origin sends before it waits for the purge
		afterBlock  string
	}{
		{"before the header", "", "old content"},
		{"during the body", "old ", "content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			release := make(chan struct{})
			var n atomic.Int64
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				if n.Add(1) == 1 {
					if tc.beforeBlock != "" {
						fmt.Fprint(w, tc.beforeBlock)
						w.(http.Flusher).Flush()
					}
					close(started)
					<-release
					fmt.Fprint(w, tc.afterBlock)
					return
				}
				fmt.Fprint(w, "new content")
			})
			done := make(chan result)
			go func() { done <- h.get("/f") }()
			<-started
			h.do("PURGE", "/f").expect(t, 200, "", "hoard; fwd=bypass; detail=purge")
			close(release)
			if r := <-done; r.body != "old content" {
				t.Errorf("first client got %q", r.body)
			}
			h.get("/f").expect(t, 200, "new content", "hoard; fwd=uri-miss")
		})
	}
}

// TestInvalidationsOfOtherKeysLeaveAFetchAlone: unsafe requests for many
// other URLs while a response is on its way do not keep it from being
// stored: only an invalidation of its own key does.
func TestInvalidationsOfOtherKeysLeaveAFetchAlone(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var slow atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/slow" && slow.Add(1) == 1 {
			close(started)
			<-release
		}
		fmt.Fprint(w, "content")
	})
	done := make(chan result)
	go func() { done <- h.get("/slow") }()
	<-started
	for i := range 2000 { // far more keys than any sharding would keep apart
		if res := h.do(http.MethodPost, "/other/"+strconv.Itoa(i)); res.status != http.StatusNoContent {
			t.Fatalf("POST %d: status %d", i, res.status)
		}
	}
	close(release)
	<-done
	h.get("/slow").expect(t, 200, "content", "hoard; hit")
	h.wantOrigin(2001) // the POSTs and one GET
}

// commitGate is a store whose commits wait at a gate, so that a test can
// act between a fill's last look at its ticket and its commit.
type commitGate struct {
	store.Store
	committing chan struct{} // receives once a commit waits
	open       chan struct{} // closed to let it go on
}

func (g *commitGate) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	bw, err := g.Store.Put(ctx, key, e)
	if err != nil {
		return nil, err
	}
	return gatedWriter{BodyWriter: bw, g: g}, nil
}

type gatedWriter struct {
	store.BodyWriter
	g *commitGate
}

func (w gatedWriter) Commit() error {
	w.g.committing <- struct{}{}
	<-w.g.open
	return w.BodyWriter.Commit()
}

// TestPurgeJustBeforeCommitWins: a purge that comes after a fill's last
// look at its ticket, but before its commit lands, still leaves nothing
// stored.
func TestPurgeJustBeforeCommitWins(t *testing.T) {
	gate := &commitGate{committing: make(chan struct{}, 1), open: make(chan struct{})}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "before the purge")
	}, func(o *Options) { gate.Store = o.Store; o.Store = gate })
	done := make(chan result)
	go func() { done <- h.get("/c") }()
	<-gate.committing
	// Past the fill's look at its ticket: the purge outdates it and
	// deletes nothing, since nothing is stored yet.
	h.do("PURGE", "/c").expect(t, 200, "", "hoard; fwd=bypass; detail=purge")
	close(gate.open)
	(<-done).expect(t, 200, "before the purge", "hoard; fwd=uri-miss")
	waitFor(t, func() bool { return h.store.Len() == 0 }, "the response fetched before the purge stayed stored")
}

// TestPurgeBeforeVariantIsIndexedWins: a purge that comes after a variant
// was committed but before it was added to its URL's index (where a purge
// looks for variants) still removes it.
func TestPurgeBeforeVariantIsIndexedWins(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "after the purge")
	})
	primary := "http://" + h.front.Listener.Addr().String() + "/v"
	r := httptest.NewRequest(http.MethodGet, h.front.URL+"/v", nil)
	r.Header.Set("Accept-Language", "en")
	// A fill of the "en" variant, driven by hand up to its commit.
	tk := h.proxy.pending.begin(primary)
	stored := http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language"}}
	cc := httpcache.ParseResponseCacheControl(stored)
	now := h.clock.Now()
	lifetime := httpcache.FreshnessLifetime(stored, cc, http.StatusOK, now, time.Hour)
	x := &exchange{r: r, primary: primary, requestTime: now, responseTime: now}
	bw, after := h.proxy.beginStore(x, storedResponse{status: http.StatusOK, header: stored, cc: cc,
		lifetime: lifetime, size: int64(len("before it"))}, tk)
	io.WriteString(bw, "before it")
	if err := bw.Commit(); err != nil {
		t.Fatal(err)
	}
	h.do("PURGE", "/v").expect(t, 200, "", "hoard; fwd=bypass; detail=purge")
	after() // indexes the variant
	tk.end()
	h.get("/v", "Accept-Language", "en").expect(t, 200, "after the purge", "hoard; fwd=uri-miss")
}
