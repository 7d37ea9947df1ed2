package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// rawExchange sends one request, written out byte for byte, on a new
// connection to the front end, and returns the response: the framing of a
// request body (Content-Length or chunked) is the test's, not a client's.
func (h *harness) rawExchange(request string) result {
	h.t.Helper()
	conn, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		h.t.Fatal(err)
	}
	method, _, _ := strings.Cut(request, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		h.t.Fatalf("reading the answer to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("reading the body of the answer to %q: %v", request, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestRequestWithBodyBypassesTheStore: a GET or HEAD with a body (a "fat
// GET") is forwarded with its body, and what the origin answers it is
// neither served from nor put into the store, so a body never shapes what
// a clean request is served. Found by a black-box probe: the answer to a
// fat GET was stored and served to the next clean GET.
func TestRequestWithBodyBypassesTheStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		method  string
		framing string // the body's framing fields and the body
	}{
		{"GET with Content-Length", "GET", "Content-Length: 5\r\n\r\nevil!"},
		{"GET chunked", "GET", "Transfer-Encoding: chunked\r\n\r\n3\r\nevi\r\n2\r\nl!\r\n0\r\n\r\n"},
		{"HEAD with Content-Length", "HEAD", "Content-Length: 5\r\n\r\nevil!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("origin: reading the request body: %v", err)
				}
				w.Header().Set("Cache-Control", "max-age=300")
				fmt.Fprintf(w, "answer to %q", body)
			})
			fat := fmt.Sprintf("%s /fat HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s",
				tt.method, h.front.Listener.Addr(), tt.framing)
			wantFat := `answer to "evil!"` // the origin saw the body
			if tt.method == http.MethodHead {
				wantFat = ""
			}
			const wantClean = `answer to ""`

			h.rawExchange(fat).expect(t, 200, wantFat, "hoard; fwd=bypass; fwd-status=200; detail=request-body")
			h.get("/fat").expect(t, 200, wantClean, "hoard; fwd=uri-miss; fwd-status=200; ttl=300; stored")
			// With a response stored, the request still goes to the
			// origin, and leaves the stored response as it was.
			h.rawExchange(fat).expect(t, 200, wantFat, "hoard; fwd=bypass; fwd-status=200; detail=request-body")
			h.get("/fat").expect(t, 200, wantClean, "hoard; hit")
			h.wantOrigin(3) // two with a body, one clean miss
		})
	}
}
