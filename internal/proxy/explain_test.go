package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
)

// explainOrigin answers by path, for the Explain tests.
func explainOrigin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/private":
		w.Header().Set("Cache-Control", "private, max-age=60")
	case "/vary":
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
	case "/big":
		w.Header().Set("Cache-Control", "max-age=60")
		w.(http.Flusher).Flush() // no Content-Length: the length is learnt by reading
		io.WriteString(w, strings.Repeat("x", 4096))
		return
	default:
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Surrogate-Key", "news")
	}
	io.WriteString(w, "hello")
}

func TestExplainStoredVariant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, explainOrigin)
	h.get("/cached").expect(t, 200, "hello", "hoard; fwd=uri-miss")
	h.clock.Advance(18 * time.Second)

	rep, err := h.proxy.Explain(t.Context(), h.front.URL+"/cached", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.wantOrigin(1) // read from the store, not fetched
	if rep.Fetched || len(rep.Variants) != 1 || rep.Key != keyFor("http", strings.TrimPrefix(h.front.URL, "http://"), "/cached") {
		t.Fatalf("Explain(/cached) = %+v, want one stored variant under the URL's key", rep)
	}
	v := rep.Variants[0]
	if !v.Stored || !v.Fresh || v.AgeSeconds != 18 || v.LifetimeRule != "max-age" || v.ETag != `"v1"` ||
		v.Size != 5 || len(v.Tags) != 1 || v.Tags[0] != "news" {
		t.Errorf("Explain(/cached) variant = %+v, want stored, fresh, age 18, max-age, ETag \"v1\", 5 bytes, tag news", v)
	}
}

func TestExplainFetchesWhatIsNotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, explainOrigin)
	rep, err := h.proxy.Explain(t.Context(), h.front.URL+"/fresh", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.wantOrigin(1)
	if !rep.Fetched || len(rep.Variants) != 1 || rep.Variants[0].Stored || !rep.Variants[0].Storable {
		t.Fatalf("Explain(/fresh) = %+v, want a fetched, storable, unstored variant", rep)
	}
	// The explanation stored nothing: the first client request is a miss.
	h.get("/fresh").expect(t, 200, "hello", "hoard; fwd=uri-miss; fwd-status=200; ttl=60; stored")
	h.wantOrigin(2)
}

func TestExplainNotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, explainOrigin, func(o *Options) { o.MaxObjectSize = 1024 })
	for _, tc := range []struct {
		path   string
		header http.Header
		want   httpcache.Reason
		size   int64
	}{
		{"/private", nil, httpcache.ReasonPrivate, 5},
		{"/big", nil, httpcache.ReasonTooLarge, -1},
		{"/auth", http.Header{"Authorization": {"Basic eDp5"}}, httpcache.ReasonAuthorization, 5},
	} {
		rep, err := h.proxy.Explain(t.Context(), h.front.URL+tc.path, tc.header)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Variants) != 1 {
			t.Fatalf("Explain(%s) = %+v, want one variant", tc.path, rep)
		}
		if v := rep.Variants[0]; v.Storable || v.NotStoredReason != tc.want || v.Size != tc.size {
			t.Errorf("Explain(%s) = storable %v, reason %q, size %d; want not storable, %q, size %d",
				tc.path, v.Storable, v.NotStoredReason, v.Size, tc.want, tc.size)
		}
	}
	if got := h.origin.last().Header.Get("Authorization"); got != "Basic eDp5" {
		t.Errorf("the origin got Authorization %q, want the explain request's", got)
	}
}

func TestExplainEveryVariant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, explainOrigin)
	h.get("/vary", "Accept-Language", "fr")
	h.get("/vary", "Accept-Language", "en")
	h.get("/vary")
	rep, err := h.proxy.Explain(t.Context(), h.front.URL+"/vary", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.wantOrigin(3)
	var got []string
	for _, v := range rep.Variants {
		if !v.Stored || len(v.RequestFields) != 1 {
			t.Fatalf("Explain(/vary) variant %+v, want stored, selected by one field", v)
		}
		f := v.RequestFields[0]
		got = append(got, f.Name+"="+f.Value+map[bool]string{true: "(absent)"}[f.Absent])
	}
	// Newest first, as the variant index keeps them.
	if want := "Accept-Language=(absent) Accept-Language=en Accept-Language=fr"; strings.Join(got, " ") != want {
		t.Errorf("Explain(/vary) variants selected by %q, want %q", strings.Join(got, " "), want)
	}
}

func TestExplainErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, explainOrigin)
	for _, bad := range []string{"/cached", "ftp://h/x", "http:///x", "%zz"} {
		if _, err := h.proxy.Explain(t.Context(), bad, nil); !errors.Is(err, ErrBadExplain) {
			t.Errorf("Explain(%q) error = %v, want ErrBadExplain", bad, err)
		}
	}
	h.origin.srv.Close()
	_, err := h.proxy.Explain(t.Context(), h.front.URL+"/gone", nil)
	if err == nil || errors.Is(err, ErrBadExplain) {
		t.Errorf("Explain with the origin down: error %v, want an origin error", err)
	}
}
