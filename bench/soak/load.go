//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// load is the soak's clients, all aimed at Hoard on addr.
type load struct {
	addr   string
	check  *checker
	client *http.Client
}

func newLoad(addr string, c *checker) *load {
	return &load{addr: addr, check: c, client: &http.Client{
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64, ResponseHeaderTimeout: 15 * time.Second},
		Timeout:   30 * time.Second,
	}}
}

// get GETs path, with a Range when rng is not empty, and checks the answer.
func (l *load) get(ctx context.Context, path, rng string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.addr+path, nil)
	if err != nil {
		panic(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.check.f.transportErrors.Add(1)
		}
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ctx.Err() != nil {
		return // cut by the end of the soak, not by Hoard
	}
	l.check.check(response{path: path, start: start, status: resp.StatusCode, header: resp.Header,
		body: body, complete: err == nil, err: err})
}

// plain is a client that GETs URLs one after another.
func (l *load) plain(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		l.get(ctx, randomPath(r, nil), "")
		pause(ctx, time.Duration(r.IntN(20))*time.Millisecond)
	}
}

// ranges is a client that asks for one byte range of stored URLs.
func (l *load) ranges(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		path := randomPath(r, func(c *class) bool { return c.staleIfError > 0 })
		if n := expectedOf(path).size; n > 0 {
			first := r.IntN(n)
			last := first + r.IntN(min(n-first, 64<<10))
			l.get(ctx, path, fmt.Sprintf("bytes=%d-%d", first, last))
		}
		pause(ctx, time.Duration(r.IntN(50))*time.Millisecond)
	}
}

// rawGET sends a GET for path on a new connection and reads the response
// head; the caller reads the body from br.
func (l *load) rawGET(ctx context.Context, path string) (net.Conn, *http.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return nil, nil, err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, l.addr)
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 16<<10), &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, resp, nil
}

// slowReader is a client that reads large bodies, at most 16 KiB every 30ms.
func (l *load) slowReader(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		path := randomPath(r, func(c *class) bool { return c.name == "big" })
		start := time.Now()
		conn, resp, err := l.rawGET(ctx, path)
		if err != nil {
			if ctx.Err() == nil {
				l.check.f.transportErrors.Add(1)
			}
			continue
		}
		var body []byte
		buf := make([]byte, 16<<10)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				// io.EOF: the body ended where its framing said; Go's
				// reader reports a cut one as io.ErrUnexpectedEOF.
				if ctx.Err() == nil {
					l.check.f.slowReads.Add(1)
					l.check.check(response{path: path, start: start, status: resp.StatusCode, header: resp.Header,
						body: body, complete: err == io.EOF, err: err})
				}
				break
			}
			pause(ctx, 30*time.Millisecond)
		}
		conn.Close()
	}
}

// vanisher is a client that asks for a URL, reads some of the response
// and resets the connection.
func (l *load) vanisher(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		path := randomPath(r, nil)
		conn, resp, err := l.rawGET(ctx, path)
		if err == nil {
			io.CopyN(io.Discard, resp.Body, int64(r.IntN(64<<10)))
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset, not a clean close
			}
			conn.Close()
			l.check.f.vanished.Add(1)
		}
		pause(ctx, time.Duration(50+r.IntN(150))*time.Millisecond)
	}
}

// purger sends PURGE for a URL now and then.
func (l *load) purger(ctx context.Context, r *rand.Rand) {
	for ctx.Err() == nil {
		pause(ctx, time.Duration(300+r.IntN(400))*time.Millisecond)
		path := randomPath(r, nil)
		l.check.fresh.purging(path, time.Now())
		req, err := http.NewRequestWithContext(ctx, "PURGE", "http://"+l.addr+path, nil)
		if err != nil {
			panic(err)
		}
		resp, err := l.client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		l.check.f.purges.Add(1)
	}
}

// pause waits for d or the end of ctx.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
