//go:build linux

package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The origin's faults, per mille of requests, on top of being killed,
// restarted and paused by the driver.
const (
	fault503     = 20 // 503 Service Unavailable
	faultHang    = 15 // answers after originHang, past Hoard's --origin-timeout
	faultGarbage = 15 // bytes that are no HTTP response, then a close
	faultCut     = 20 // the head and half the body, then a close
	faultTrickle = 30 // the body in eight pieces, 40ms apart
	originHang   = 3 * time.Second
)

// runOrigin serves the soak's URLs on addr until it is killed: each body
// from its path, with its class's Cache-Control, and faults at random.
func runOrigin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(serveOrigin), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func serveOrigin(w http.ResponseWriter, r *http.Request) {
	c, ok := classOf(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	roll := rand.IntN(1000)
	switch {
	case roll < fault503:
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "origin fault: 503", http.StatusServiceUnavailable)
		return
	case roll < fault503+faultHang:
		select {
		case <-time.After(originHang):
		case <-r.Context().Done():
			return
		}
	case roll < fault503+faultHang+faultGarbage:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Write([]byte("HTTP/1.1 2x0 \x00garbage\r\nContent-Length: -4\r\n\r\n\xff\xfe"))
			conn.Close()
		}
		return
	}
	body := bodyOf(r.URL.Path)
	h := w.Header()
	h.Set("Cache-Control", c.cacheControl)
	h.Set("Content-Type", "application/octet-stream")
	if c.etag {
		etag := etagOf(r.URL.Path)
		h.Set("ETag", etag)
		if strings.Contains(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	cutFrom := fault503 + faultHang + faultGarbage
	cut := roll >= cutFrom && roll < cutFrom+faultCut
	trickle := roll >= cutFrom+faultCut && roll < cutFrom+faultCut+faultTrickle
	if !chunkedFor(r.URL.Path) || cut {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if cut {
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	pieces := 2 // written apart, so that an unsized body goes chunked
	if trickle {
		pieces = 8
	}
	for i := range pieces {
		if _, err := w.Write(body[len(body)*i/pieces : len(body)*(i+1)/pieces]); err != nil {
			return
		}
		http.NewResponseController(w).Flush()
		if trickle {
			time.Sleep(40 * time.Millisecond)
		}
	}
}
