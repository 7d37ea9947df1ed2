package front

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestOpenConns counts a connection the front end serves and one it
// handed to net/http, and sees each go when its client hangs up.
func TestOpenConns(t *testing.T) {
	addr, fe := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	plain, handed := dial(t, addr), dial(t, addr)
	plain.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	plain.read(http.MethodGet)
	handed.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
	handed.read(http.MethodPost)
	if n := fe.OpenConns(); n != 2 {
		t.Fatalf("OpenConns() = %d with two clients connected, want 2", n)
	}
	plain.c.Close()
	handed.c.Close()
	// The server learns of the hang-ups when its reads fail: poll.
	deadline := time.Now().Add(5 * time.Second)
	for fe.OpenConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := fe.OpenConns(); n != 0 {
		t.Errorf("OpenConns() = %d after both clients hung up, want 0", n)
	}
}
