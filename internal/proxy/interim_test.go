package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"
)

// TestInterimResponsesRelayed: a 103 Early Hints from the origin reaches
// the client (RFC 9110 §15.2), and its fields do not leak into the final
// response, nor into what is stored.
func TestInterimResponsesRelayed(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "final")
	})
	var mu sync.Mutex
	var interim []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		interim = append(interim, fmt.Sprintf("%d %s", code, hdr.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, h.front.URL+"/hints", nil)
	resp, err := h.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	got := fmt.Sprint(interim)
	mu.Unlock()
	if got != "[103 </style.css>; rel=preload]" {
		t.Errorf("interim responses %s, want the 103 with its Link", got)
	}
	if string(body) != "final" || resp.Header.Get("Link") != "" {
		t.Errorf("final response: body %q, Link %q", body, resp.Header.Get("Link"))
	}
	r := h.get("/hints")
	r.expect(t, 200, "final", "hoard; hit")
	if r.header.Get("Link") != "" {
		t.Errorf("stored response carries the 103's Link")
	}
}
