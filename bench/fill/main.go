// Command fill GETs a numbered range of URLs through a proxy, a few at a
// time, to put a known set of objects into its cache:
//
//	fill --base http://127.0.0.1:19003 --prefix /obj/1k/set- --n 10000
//
// requests base+prefix+i for i in [start, start+n) and prints one line of
// key=value pairs (requests, ok, failed, seconds). It exits 1 when any
// request failed, since a cache filled by half would skew what follows, and
// gives up early once --max-failures requests have failed, so that a proxy
// that stopped answering does not hold it for n request timeouts.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("base", "", "scheme and host of the proxy, e.g. http://127.0.0.1:19003 (required)")
	prefix := flag.String("prefix", "/obj/1k/fill-", "path before the number")
	start := flag.Int("start", 0, "first number")
	n := flag.Int("n", 10000, "how many URLs")
	conns := flag.Int("c", 16, "concurrent requests")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a request after this long")
	maxFailures := flag.Int64("max-failures", 10, "stop after this many failed requests")
	flag.Parse()
	if *base == "" || *n < 0 || *conns < 1 {
		fmt.Fprintln(os.Stderr, "usage: fill --base URL [--prefix P] [--start 0] [--n 10000] [--c 16]")
		os.Exit(2)
	}
	began := time.Now()
	ok, failed, firstErr := fill(context.Background(), *base+*prefix, *start, *n, *conns, *timeout, *maxFailures)
	fmt.Printf("requests=%d ok=%d failed=%d seconds=%.2f\n", *n, ok, failed, time.Since(began).Seconds())
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "fill: %d requests failed, the first: %v\n", failed, firstErr)
		os.Exit(1)
	}
}

// fill requests url+i for i in [start, start+n) over conns connections and
// counts the whole 200 answers. It stops early after maxFailures failures.
func fill(ctx context.Context, url string, start, n, conns int, timeout time.Duration, maxFailures int64) (ok, failed int64, firstErr error) {
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timeout}

	var (
		next       atomic.Int64 // the next number to request, from start
		okN, failN atomic.Int64
		errOnce    sync.Once
		wg         sync.WaitGroup
	)
	next.Store(int64(start))
	end := int64(start + n)
	for range conns {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < end; i = next.Add(1) - 1 {
				if err := get(ctx, client, url+strconv.FormatInt(i, 10)); err != nil {
					errOnce.Do(func() { firstErr = err })
					if failN.Add(1) >= maxFailures {
						next.Store(end) // every worker stops at its next number
						return
					}
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	return okN.Load(), failN.Load(), firstErr
}

// get fetches url and reads the whole body; anything but a 200 is an error.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}
