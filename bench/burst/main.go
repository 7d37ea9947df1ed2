// Command burst fires many concurrent GETs at one URL, all released at the
// same instant, and prints how they fared on one line of key=value pairs:
//
//	requests=200 ok=200 failed=0 p50_ms=1003.1 p99_ms=1012.4 max_ms=1013.0
//
// It measures request coalescing: aimed at a proxy in front of a slow origin,
// every client should wait about one origin fetch, and the origin should see
// one request. Each client uses its own connection, as separate clients would.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL to GET (required)")
	n := flag.Int("n", 200, "number of concurrent clients")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a request after this long")
	flag.Parse()
	if *url == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: burst --url URL [--n 200] [--timeout 30s]")
		os.Exit(2)
	}
	r := run(context.Background(), *url, *n, *timeout)
	fmt.Println(r)
	if r.failed > 0 {
		os.Exit(1)
	}
}

// result is what a burst measured.
type result struct {
	latencies []time.Duration // of the requests that got a whole 200
	failed    int
	errs      []string // a few sample failures
}

func (r result) String() string {
	s := fmt.Sprintf("requests=%d ok=%d failed=%d", len(r.latencies)+r.failed, len(r.latencies), r.failed)
	if len(r.latencies) > 0 {
		l := slices.Clone(r.latencies)
		slices.Sort(l)
		s += fmt.Sprintf(" p50_ms=%.1f p99_ms=%.1f max_ms=%.1f",
			ms(percentile(l, 50)), ms(percentile(l, 99)), ms(l[len(l)-1]))
	}
	for _, e := range r.errs {
		s += fmt.Sprintf(" error=%q", e)
	}
	return s
}

// run sends n GETs of url at once, each on its own connection.
func run(ctx context.Context, url string, n int, timeout time.Duration) result {
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: n, // n connections, none shared while all are busy
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timeout}

	var (
		mu  sync.Mutex // guards res
		res result
		wg  sync.WaitGroup
	)
	var ready sync.WaitGroup
	ready.Add(n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			ready.Done()
			<-start
			began := time.Now()
			err := get(ctx, client, url)
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed++
				if len(res.errs) < 3 {
					res.errs = append(res.errs, err.Error())
				}
				return
			}
			res.latencies = append(res.latencies, took)
		})
	}
	// Release the requests together once every goroutine waits at the
	// barrier, rather than as they are scheduled.
	ready.Wait()
	close(start)
	wg.Wait()
	return res
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
		return fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// percentile returns the p-th percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
