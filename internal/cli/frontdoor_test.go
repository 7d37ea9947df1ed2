package cli

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingOrigin is an origin that records the path of every request
// it receives.
type recordingOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRecordingOrigin(t *testing.T) *recordingOrigin {
	o := &recordingOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		o.mu.Lock()
		o.paths = append(o.paths, r.Method+" "+r.URL.Path)
		o.mu.Unlock()
		io.WriteString(w, "origin saw "+r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *recordingOrigin) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

// The request smuggled in the body of a second request on a connection
// (Transfer-Encoding with Content-Length, or in HTTP/1.0) never reaches
// the origin, with either HTTP server: the second request is answered 400
// and the connection closed.
func TestServeRefusesSmugglingOnEveryRequest(t *testing.T) {
	const smuggle = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, server := range []string{"front", "net"} {
		for name, second := range map[string]string{
			"TE and CL":      fmt.Sprintf("POST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(smuggle), smuggle),
			"TE in HTTP/1.0": fmt.Sprintf("POST /p2 HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(smuggle), smuggle),
		} {
			t.Run(server+"/"+name, func(t *testing.T) {
				origin := newRecordingOrigin(t)
				s := startServe(t, "--origin", origin.URL, "--http-server", server)
				defer s.stop(t)
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				io.WriteString(c, "POST /p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("first request: %v, %v", resp, err)
				}
				io.Copy(io.Discard, resp.Body)
				io.WriteString(c, second)
				resp, err = http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("second request: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusBadRequest || !resp.Close {
					t.Errorf("second request: %d %q, close %v; want 400 and Connection: close", resp.StatusCode, body, resp.Close)
				}
				if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Errorf("after the 400: %d bytes, %v; want the connection closed", n, err)
				}
				if got := strings.Join(origin.seen(), ", "); got != "POST /p1" {
					t.Errorf("the origin received %s; want only POST /p1", got)
				}
			})
		}
	}
}

// A request body the client fails to deliver is the client's fault, not
// the origin's: one that stops arriving is answered 408, one with broken
// chunked framing 400, each with Connection: close, never an empty 200.
// A whole request pipelined before a broken one gets the origin's answer.
func TestServeAnswersBrokenRequestBodies(t *testing.T) {
	origin := newRecordingOrigin(t)
	s := startServe(t, "--origin", origin.URL, "--client-body-timeout", "300ms")
	defer s.stop(t)
	dialRead := func(send string, n int) []*http.Response {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, send)
		br := bufio.NewReader(c)
		var resps []*http.Response
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%q: response %d: %v", send, len(resps)+1, err)
			}
			io.Copy(io.Discard, resp.Body)
			resps = append(resps, resp)
		}
		return resps
	}
	if r := dialRead("POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 1)[0]; r.StatusCode != http.StatusRequestTimeout || !r.Close {
		t.Errorf("a stalled body: %d, close %v; want 408 and Connection: close", r.StatusCode, r.Close)
	}
	rs := dialRead("POST /p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
		"POST /p2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 2)
	if body := rs[0].Header.Get("Cache-Status"); rs[0].StatusCode != http.StatusOK || body == "" {
		t.Errorf("the whole request before a broken one: %d, Cache-Status %q; want the origin's 200", rs[0].StatusCode, body)
	}
	if rs[1].StatusCode != http.StatusBadRequest || !rs[1].Close {
		t.Errorf("broken chunked framing: %d, close %v; want 400 and Connection: close", rs[1].StatusCode, rs[1].Close)
	}
}
