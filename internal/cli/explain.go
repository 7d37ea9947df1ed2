package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hoard-cache/hoard/internal/explain"
)

// defaultAdmin is where "hoard explain" looks for the admin API when
// neither --admin nor HOARD_ADMIN_LISTEN says.
const defaultAdmin = "127.0.0.1:9080"

// explainTimeout bounds one explanation; when nothing is stored it includes
// an origin fetch, bounded by the server's --origin-timeout.
const explainTimeout = 2 * time.Minute

const explainUsage = `Usage: hoard explain [flags] URL

Asks a running Hoard's admin API (GET /_hoard/explain) what it holds for
URL, as clients request it through Hoard (http://host:port/path), and why:
for each stored variant, rule by rule with its RFC section. When nothing is
stored, Hoard asks the origin with a GET and explains its answer; that
answer is not stored.

Flags:
`

// headerFlags collects repeated --header "Name: value" flags.
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error {
	if name, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want Name: value, like 'Accept-Language: fr'")
	}
	*h = append(*h, v)
	return nil
}

// runExplain runs "hoard explain".
func runExplain(ctx context.Context, p process, args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by usageError, help by printFlags
	admin := defaultAdmin
	if v, ok := p.lookupEnv("HOARD_ADMIN_LISTEN"); ok && v != "" {
		admin = v
	}
	fs.StringVar(&admin, "admin", admin, "`address` of the admin API (hoard serve --admin-listen) [$HOARD_ADMIN_LISTEN]")
	asJSON := fs.Bool("json", false, "print the report as JSON, for tools")
	var headers headerFlags
	fs.Var(&headers, "header", "a request field, `Name: value`, sent if the origin is asked (repeatable)")

	// Flags may come before or after the URL.
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(p.stdout, explainUsage)
			printFlags(p.stdout, fs)
			return 0
		}
		if err != nil {
			return usageError(p.stderr, "hoard explain", err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) == 0:
		return usageError(p.stderr, "hoard explain", errors.New("give the URL to explain, like http://127.0.0.1:8080/path"))
	case len(positional) > 1:
		return usageError(p.stderr, "hoard explain", fmt.Errorf("unexpected argument %q", positional[1]))
	}
	endpoint, err := explainEndpoint(admin, positional[0], headers)
	if err != nil {
		return usageError(p.stderr, "hoard explain", err)
	}

	body, err := getExplanation(ctx, endpoint)
	if err != nil {
		fmt.Fprintf(p.stderr, "hoard explain: %v\n", err)
		return 1
	}
	if *asJSON {
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			fmt.Fprintf(p.stderr, "hoard explain: the admin API's answer is not JSON: %v\n", err)
			return 1
		}
		out.WriteByte('\n')
		_, err = p.stdout.Write(out.Bytes())
	} else {
		var rep explain.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			fmt.Fprintf(p.stderr, "hoard explain: the admin API's answer is not a report: %v\n", err)
			return 1
		}
		err = rep.WriteText(p.stdout)
	}
	if err != nil {
		fmt.Fprintf(p.stderr, "hoard explain: %v\n", err)
		return 1
	}
	return 0
}

// explainEndpoint is the admin API's URL that explains target. admin is
// host:port, as --admin-listen takes it, or an http URL; an unspecified or
// empty host (0.0.0.0:9080, :9080) is reached on loopback.
func explainEndpoint(admin, target string, headers []string) (string, error) {
	base := admin
	if !strings.Contains(admin, "://") {
		host, port, err := net.SplitHostPort(admin)
		if err != nil {
			return "", fmt.Errorf("--admin %q: want host:port, like %s", admin, defaultAdmin)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--admin %q: want host:port or an http URL", admin)
	}
	q := url.Values{"url": {target}}
	for _, h := range headers {
		q.Add("header", h)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/_hoard/explain"
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// getExplanation asks the admin API and returns the JSON report, or an
// error that says what to do.
func getExplanation(ctx context.Context, endpoint string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, explainTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API (is hoard serve running with --admin-listen?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the admin API's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("the admin API answered %s", resp.Status)
	}
	return body, nil
}
