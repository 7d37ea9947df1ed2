package front

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// Two buffers far larger than a socket's send buffer arrive whole and in
// order at a reader that takes its time: the sender writes what fits,
// waits for the socket, and goes on where it stopped, across the two.
func TestSenderLargeWritesToASlowReader(t *testing.T) {
	server, client := tcpPair(t)
	a := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	b := bytes.Repeat([]byte("ZYXWVUTSRQPONMLK"), 5<<16) // 5 MiB
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		chunk := make([]byte, 64<<10)
		for buf.Len() < len(a)+len(b) {
			time.Sleep(time.Millisecond) // a reader that takes its time: the socket fills
			n, err := client.Read(chunk)
			buf.Write(chunk[:n])
			if err != nil {
				break
			}
		}
		got <- buf.Bytes()
	}()
	s := newSender(server, 0)
	if err := s.send(a, b); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := s.send([]byte("!"), nil); err != nil { // a second call reuses the sender
		t.Fatalf("send: %v", err)
	}
	want := append(append(bytes.Clone(a), b...), '!')
	select {
	case g := <-got:
		if len(g) < len(want)-1 || !bytes.Equal(g, want[:len(g)]) {
			t.Fatalf("received %d bytes, not the %d sent in order", len(g), len(want))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the reader did not get everything")
	}
}

// Writing to a connection the peer has closed fails, and keeps failing.
func TestSenderPeerGone(t *testing.T) {
	server, client := tcpPair(t)
	client.Close()
	s := newSender(server, 0)
	big := make([]byte, 1<<20)
	// The first sends may fit in the socket before the peer's reset comes
	// back; a send that waits for room is woken by it.
	var err error
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); {
		err = s.send(big, big)
	}
	if err == nil {
		t.Fatal("sending to a closed peer never failed")
	}
}

// Empty buffers, on either side or both, send what there is; a write
// deadline ends a send that waits for a reader that never reads.
func TestSenderEdges(t *testing.T) {
	server, client := tcpPair(t)
	s := newSender(server, 0)
	for _, tc := range []struct{ a, b string }{{"", ""}, {"", "xy"}, {"ab", ""}, {"ab", "cd"}} {
		if err := s.send([]byte(tc.a), []byte(tc.b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.send(nil, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	client.SetReadDeadline(time.Now().Add(time.Second))
	if n, _ := io.ReadAtLeast(client, buf, 8); string(buf[:n]) != "xyababcd" {
		t.Fatalf("got %q, want xyababcd", buf[:n])
	}

	server.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	big := make([]byte, 64<<20)
	if err := s.send(big[:32<<20], big[32<<20:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a send past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}
