package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
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
	var seen interimLog
	resp, body := seen.get(t, h, "/hints")
	if got := seen.String(); got != "[103 </style.css>; rel=preload]" {
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

// lateInterim is a transport that reads an interim response after
// RoundTrip has returned, as net/http's may once its request is cancelled:
// the 103 is handed to the trace when the body is first read.
type lateInterim struct{ next http.RoundTripper }

func (l lateInterim) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &lateBody{ReadCloser: resp.Body, trace: httptrace.ContextClientTrace(r.Context())}
	return resp, nil
}

type lateBody struct {
	io.ReadCloser
	trace *httptrace.ClientTrace
	once  sync.Once
}

func (b *lateBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		if b.trace != nil && b.trace.Got1xxResponse != nil {
			b.trace.Got1xxResponse(http.StatusEarlyHints, textproto.MIMEHeader{"Link": {"</late.css>; rel=preload"}})
		}
	})
	return b.ReadCloser.Read(p)
}

// TestLateInterimResponseDropped: an interim response that comes after the
// final one is not relayed, and its fields go into no response (the front
// end reuses a connection's header maps, so after the handler they would
// land in the next request's).
func TestLateInterimResponseDropped(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		fmt.Fprint(w, "final")
	}, func(o *Options) { o.Transport = lateInterim{next: &http.Transport{}} })
	var seen interimLog
	for range 2 {
		resp, body := seen.get(t, h, "/late")
		if resp.StatusCode != 200 || string(body) != "final" || resp.Header.Get("Link") != "" ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("status %d, body %q, header %v; want 200, final, the origin's fields and no Link",
				resp.StatusCode, body, resp.Header)
		}
	}
	if got := seen.String(); got != "[]" {
		t.Errorf("interim responses %s relayed after the final one", got)
	}
}

// interimLog records the interim responses a client sees, as "code Link".
type interimLog struct {
	mu   sync.Mutex
	seen []string
}

// get GETs path through h's front end, recording its interim responses,
// and returns the final response with its body.
func (l *interimLog) get(t *testing.T, h *harness, path string) (*http.Response, string) {
	t.Helper()
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seen = append(l.seen, fmt.Sprintf("%d %s", code, hdr.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, h.front.URL+path, nil)
	resp, err := h.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (l *interimLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.seen)
}

// No 1xx response is sent to an HTTP/1.0 client: the origin's 103 is not
// relayed to one (RFC 9110 §15.2).
func TestNoInterimResponseToHTTP10Client(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /hints HTTP/1.0\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if strings.Contains(line, " 103") {
		t.Errorf("HTTP/1.0 client got %q", line)
	}
}
