package origin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkOriginRoundTrip compares Hoard's pool (through the Client, as
// the proxy uses it) with net/http's Transport on one GET of a 1 KiB
// response from a loopback origin, read to its end: the origin side of
// every miss.
func BenchmarkOriginRoundTrip(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	u, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{URL: u.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"client", c}, {"transport", c.backends[0].transport}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/obj", nil)
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.Copy(io.Discard, resp.Body); n != int64(len(body)) {
					b.Fatalf("read %d bytes", n)
				}
				resp.Body.Close()
			}
		})
	}
}
