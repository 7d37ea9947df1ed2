// Package config is Hoard's user-facing configuration: one struct whose field
// comments are the user documentation, its defaults, its validation, and the
// loading of settings from HOARD_* environment variables and command-line
// flags (defaults < environment < flags).
//
// Package config imports nothing of Hoard's and reads nothing by itself: the
// caller (package cli) hands it a flag.FlagSet, the arguments and a function
// that looks up environment variables. Other packages never see a Config;
// cli copies what each needs into that package's own Options.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything a user can set. Every field is read once, at start-up.
//
// Each field is set by the flag named in its comment, or by the environment
// variable HOARD_ followed by the flag's name in upper case with dashes
// turned into underscores (--max-memory is HOARD_MAX_MEMORY). A flag beats
// the environment, which beats the default.
type Config struct {
	// Listen is the address the proxy accepts client connections on, as
	// host:port with a port from 0 to 65535; port 0 picks a free port. Flag
	// --listen. Default "127.0.0.1:8080" (loopback only).
	Listen string

	// Origin is the base URL of the server Hoard caches, with scheme http or
	// https, like "http://127.0.0.1:9000" or "https://example.com/app"; a
	// path is prefixed to every request's path. Flag --origin. Required
	// unless Demo is set, and not allowed with it.
	Origin string

	// Demo runs a built-in sample origin on a loopback port and caches that,
	// to try Hoard without a server of your own. Flag --demo. Default false.
	Demo bool

	// MaxMemory is how many bytes the memory store may hold, bodies and
	// metadata together; the least recently used entries are evicted beyond
	// it. Written like 256MiB, 1GiB or 500MB. Flag --max-memory. Default
	// 256MiB.
	MaxMemory int64

	// MaxObjectSize is the largest response body, in bytes, that is stored;
	// larger responses are passed through uncached. At most MaxMemory.
	// Flag --max-object-size. Default 16MiB.
	MaxObjectSize int64

	// HeuristicMax caps the freshness lifetime Hoard guesses for a response
	// that has Last-Modified but no explicit expiry (RFC 9111 §4.2.2).
	// Written like 30m or 24h. Flag --heuristic-max. Default 24h.
	HeuristicMax time.Duration

	// OriginTimeout bounds one exchange with the origin, from sending the
	// request to receiving the response header; a slower origin gets a 504.
	// Flag --origin-timeout. Default 30s.
	OriginTimeout time.Duration

	// OriginConnectTimeout bounds opening a connection to the origin.
	// Flag --origin-connect-timeout. Default 5s.
	OriginConnectTimeout time.Duration

	// OriginIdleTimeout is how long an idle keep-alive connection to the
	// origin is kept for reuse. Flag --origin-idle-timeout. Default 90s.
	OriginIdleTimeout time.Duration

	// OriginMaxConns bounds the connections open to the origin at once;
	// further requests wait for one to be free. 0 means no bound. Flag
	// --origin-max-conns. Default 0.
	OriginMaxConns int

	// OriginMaxBackoff is the longest pause in dialling after the origin
	// refuses connections: the pause starts at 100ms and doubles while
	// refusals go on; requests in it fail at once, or are served stale
	// where allowed. 0s turns backoff off. Flag --origin-max-backoff.
	// Default 5s.
	OriginMaxBackoff time.Duration

	// StaleIfError is how long past its freshness a stored response may
	// still be served when the origin is down, times out or answers 500,
	// 502, 503 or 504, for responses without their own stale-if-error
	// directive (RFC 5861 §4). Never where must-revalidate,
	// proxy-revalidate, s-maxage or no-cache forbid it. 0s turns the grace
	// off. Flag --stale-if-error. Default 60s.
	StaleIfError time.Duration

	// Store is where responses are kept: "memory" (bounded by MaxMemory),
	// "disk:PATH" (a directory that survives restarts, bounded by MaxDisk,
	// with memory in front), or "redis://HOST:PORT/DB" (a Redis server
	// shared by a fleet of Hoard processes, with memory in front; several
	// comma-separated HOST:PORT seeds mean a Redis Cluster; a host without a
	// port means port 6379). A password in the URL
	// (redis://:PASSWORD@HOST:PORT/DB) is never logged or printed: Hoard
	// writes it as ***. Flag --store. Default memory.
	Store string

	// MaxDisk bounds the disk store, in bytes (bodies and metadata). Flag
	// --max-disk. Default 1GiB.
	MaxDisk int64

	// AdminListen is the address of the admin API (POST /_hoard/purge,
	// GET /_hoard/health); empty turns it off. It must differ from Listen.
	// Keep it on loopback or a private network. Flag --admin-listen.
	// Default "" (off).
	AdminListen string

	// PurgeAllow lists the client networks (CIDRs, comma-separated) allowed
	// to send the PURGE method; others get 403. Flag --purge-allow.
	// Default 127.0.0.0/8,::1/128.
	PurgeAllow []netip.Prefix

	// HTTPServer is what serves client connections: "front", Hoard's own
	// HTTP/1.1 server, which answers plain GET and HEAD requests (cache
	// hits) itself and hands the others to net/http's server, or "net",
	// net/http's server for every request, to rule the front end out when
	// something looks wrong. Both refuse ambiguous request framing the
	// same way. Flag --http-server. Default front.
	HTTPServer string

	// MaxHeaderBytes bounds a client request's head (request line and
	// header fields); a larger one gets 431. Flag --max-header-bytes.
	// Default 64KiB.
	MaxHeaderBytes int64

	// ClientHeaderTimeout is how long a client has to send a whole
	// request head, from its first byte (for a new connection, from when
	// it opens). Flag --client-header-timeout. Default 10s.
	ClientHeaderTimeout time.Duration

	// ClientIdleTimeout is how long a keep-alive connection may wait for
	// its next request. Flag --client-idle-timeout. Default 120s.
	ClientIdleTimeout time.Duration

	// ClientBodyTimeout is how long a request body may stop arriving
	// before the connection is closed (and the origin request it feeds is
	// cut). 0s means no bound. Flag --client-body-timeout. Default 60s.
	ClientBodyTimeout time.Duration

	// ClientWriteTimeout is how long a write to a client may make no
	// progress (the client reads nothing) before its connection is
	// closed. A slow client that keeps reading is never cut. 0s means no
	// bound. Flag --client-write-timeout. Default 60s.
	ClientWriteTimeout time.Duration

	// MaxConns bounds the client connections open at once. At the bound,
	// an idle keep-alive connection is closed to make room, and when none
	// is idle new connections wait in the listener's backlog until one
	// ends. 0 means no bound. Flag --max-conns. Default 10000.
	MaxConns int

	// ShutdownGrace is how long requests in flight get to finish after
	// SIGTERM or SIGINT, once Hoard has stopped accepting connections;
	// those still running then are cut and Hoard exits 0 all the same. A
	// second signal exits at once. 0s cuts them at once. Flag
	// --shutdown-grace. Default 10s.
	ShutdownGrace time.Duration

	// TrustedProxies lists the networks (CIDRs or addresses,
	// comma-separated) of the proxies in front of Hoard, such as a load
	// balancer or a TLS terminator, whose forwarding fields Hoard believes.
	// From a peer in these networks, Forwarded, X-Forwarded-For,
	// X-Forwarded-Proto and X-Forwarded-Host are kept and extended for the
	// origin; from any other peer, Forwarded, every X-Forwarded-* field and
	// X-Real-IP are dropped, and Hoard sends only its own, made from the
	// connection it accepted. Trust only networks that clients cannot
	// reach Hoard from directly. Flag --trusted-proxies. Default "" (none).
	TrustedProxies []netip.Prefix

	// CPUs is how many operating system threads may run Go code at once
	// (GOMAXPROCS). 0 keeps Go's default: every CPU the process may use,
	// which honours a cgroup CPU limit and follows it when it changes, or
	// what the GOMAXPROCS environment variable says; a positive value beats
	// both. On a machine whose cores are shared with other busy processes
	// (the origin, a load generator), fewer threads can serve more. At most
	// 4096. Flag --cpus. Default 0.
	CPUs int

	// LogLevel is the least severe level logged: debug (one line per
	// request), info (start-up and shutdown), warn or error. Flag
	// --log-level. Default info.
	LogLevel slog.Level

	// LogFormat is how log lines are written to standard error: text
	// (key=value) or json (one object per line). Flag --log-format. Default
	// text.
	LogFormat LogFormat

	// AccessLog is where a line per client request is written: a file
	// path (appended to), or - for standard output. Flag --access-log.
	// Default empty: no access log.
	AccessLog string

	// AccessLogFormat is the layout of access log lines: combined (Apache's,
	// with the Cache-Status and the duration in seconds appended) or json
	// (one object per line). Flag --access-log-format. Default combined.
	AccessLogFormat AccessLogFormat
}

// AccessLogFormat is the layout of access log lines.
type AccessLogFormat string

// The access log formats.
const (
	AccessCombined AccessLogFormat = "combined"
	AccessJSON     AccessLogFormat = "json"
)

// The bounds of --max-header-bytes: a head smaller than 4 KiB is too
// small for ordinary browsers' requests, and one over 16 MiB is a typing
// error rather than a request.
const (
	minHeaderBytes = 4 << 10
	maxHeaderBytes = 16 << 20
)

// maxCPUs is the largest --cpus accepted: a larger value is a typing error
// rather than a machine.
const maxCPUs = 4096

// LogFormat is how log lines are written.
type LogFormat string

// The log formats.
const (
	LogText LogFormat = "text" // key=value pairs, for people
	LogJSON LogFormat = "json" // one JSON object per line, for machines
)

// Default returns the configuration used when nothing is set. Its Origin is
// empty, so it does not validate until an origin (or Demo) is chosen.
func Default() Config {
	var c Config
	for i := range settings {
		s := &settings[i]
		if s.def == "" {
			continue // the zero value is the default
		}
		if err := s.bind(&c).Set(s.def); err != nil {
			// The table is wrong; TestDefault catches this before a release.
			panic(fmt.Sprintf("config: default of --%s %q: %v", s.name, s.def, err))
		}
	}
	return c
}

// Validate reports every setting that is missing, malformed or inconsistent
// with another, one per line, each naming its flag and the bad value.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flag, value, reason string) {
		errs = append(errs, invalid("--"+flag, value, errors.New(reason)))
	}

	if reason := checkAddr(c.Listen); reason != "" {
		bad("listen", c.Listen, reason+", like 127.0.0.1:8080 or :8080")
	}
	switch {
	case c.Demo && c.Origin != "":
		bad("origin", c.Origin, "not allowed with --demo, which runs its own origin")
	case !c.Demo && c.Origin == "":
		errs = append(errs, errors.New("--origin is required (or use --demo to try the built-in sample origin)"))
	case c.Origin != "":
		if reason := checkOrigin(c.Origin); reason != "" {
			bad("origin", c.Origin, reason)
		}
	}

	if c.MaxMemory <= 0 {
		bad("max-memory", FormatSize(c.MaxMemory), "must be positive")
	}
	if c.MaxObjectSize <= 0 {
		bad("max-object-size", FormatSize(c.MaxObjectSize), "must be positive")
	} else if c.MaxMemory > 0 && c.MaxObjectSize > c.MaxMemory {
		bad("max-object-size", FormatSize(c.MaxObjectSize),
			"must not exceed --max-memory "+FormatSize(c.MaxMemory))
	}
	if c.HeuristicMax <= 0 {
		bad("heuristic-max", c.HeuristicMax.String(), "must be positive")
	}
	if c.OriginTimeout <= 0 {
		bad("origin-timeout", c.OriginTimeout.String(), "must be positive")
	}
	if _, err := ParseStore(c.Store); err != nil {
		bad("store", RedactStore(c.Store), err.Error())
	}
	if c.MaxDisk <= 0 {
		bad("max-disk", FormatSize(c.MaxDisk), "must be positive")
	}
	if c.AdminListen != "" {
		if reason := checkAddr(c.AdminListen); reason != "" {
			bad("admin-listen", c.AdminListen, reason+", like 127.0.0.1:9080")
		} else if sameAddr(c.Listen, c.AdminListen) {
			bad("admin-listen", c.AdminListen, "the same address as --listen "+c.Listen+
				"; give the admin API an address of its own, like 127.0.0.1:9080")
		}
	}
	if c.OriginConnectTimeout <= 0 {
		bad("origin-connect-timeout", c.OriginConnectTimeout.String(), "must be positive")
	}
	if c.OriginIdleTimeout <= 0 {
		bad("origin-idle-timeout", c.OriginIdleTimeout.String(), "must be positive")
	}
	if c.OriginMaxConns < 0 {
		bad("origin-max-conns", fmt.Sprint(c.OriginMaxConns), "must not be negative")
	}
	if c.OriginMaxBackoff < 0 {
		bad("origin-max-backoff", c.OriginMaxBackoff.String(), "must not be negative")
	}
	if c.StaleIfError < 0 {
		bad("stale-if-error", c.StaleIfError.String(), "must not be negative")
	}
	if c.HTTPServer != "front" && c.HTTPServer != "net" {
		bad("http-server", c.HTTPServer, "want front or net")
	}
	if c.MaxHeaderBytes < minHeaderBytes || c.MaxHeaderBytes > maxHeaderBytes {
		bad("max-header-bytes", FormatSize(c.MaxHeaderBytes),
			"must be from "+FormatSize(minHeaderBytes)+" to "+FormatSize(maxHeaderBytes))
	}
	if c.ClientHeaderTimeout <= 0 {
		bad("client-header-timeout", c.ClientHeaderTimeout.String(), "must be positive")
	}
	if c.ClientIdleTimeout <= 0 {
		bad("client-idle-timeout", c.ClientIdleTimeout.String(), "must be positive")
	}
	if c.ClientBodyTimeout < 0 {
		bad("client-body-timeout", c.ClientBodyTimeout.String(), "must not be negative (0s: no bound)")
	}
	if c.ClientWriteTimeout < 0 {
		bad("client-write-timeout", c.ClientWriteTimeout.String(), "must not be negative (0s: no bound)")
	}
	if c.MaxConns < 0 {
		bad("max-conns", fmt.Sprint(c.MaxConns), "must not be negative (0: no bound)")
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown-grace", c.ShutdownGrace.String(), "must not be negative (0s: cut requests at once)")
	}
	switch {
	case c.CPUs < 0:
		bad("cpus", fmt.Sprint(c.CPUs), "must not be negative (0 means every CPU)")
	case c.CPUs > maxCPUs:
		bad("cpus", fmt.Sprint(c.CPUs), fmt.Sprintf("must be at most %d", maxCPUs))
	}
	if _, ok := levelNames[c.LogLevel]; !ok {
		bad("log-level", c.LogLevel.String(), "want debug, info, warn or error")
	}
	if c.AccessLogFormat != AccessCombined && c.AccessLogFormat != AccessJSON {
		bad("access-log-format", string(c.AccessLogFormat), "want combined or json")
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		bad("log-format", string(c.LogFormat), "want text or json")
	}
	return errors.Join(errs...)
}

// checkAddr says what is wrong with a listening address, or "" if nothing
// is: it must be host:port, with a port from 0 to 65535 (or a service name
// such as http).
func checkAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "want host:port"
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		if _, nerr := strconv.Atoi(port); nerr == nil {
			return "port " + port + " is out of range; want a port from 0 to 65535"
		}
		return "port " + strconv.Quote(port) + " is not a number from 0 to 65535"
	}
	return ""
}

// sameAddr reports whether two valid listening addresses would take the
// same port: the same fixed port, on the same host or where either is every
// interface. (Different names of one host, such as localhost and
// 127.0.0.1, are left to the listen itself to find.)
func sameAddr(a, b string) bool {
	hostA, portA, _ := net.SplitHostPort(a)
	hostB, portB, _ := net.SplitHostPort(b)
	pa, _ := net.LookupPort("tcp", portA)
	pb, _ := net.LookupPort("tcp", portB)
	if pa == 0 || pa != pb {
		return false // port 0 picks a free port each time
	}
	return hostA == hostB || everyInterface(hostA) || everyInterface(hostB)
}

// everyInterface reports whether a listening host means every interface.
func everyInterface(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}

// checkOrigin says what is wrong with an origin URL, or "" if nothing is.
func checkOrigin(origin string) string {
	u, err := url.Parse(origin)
	switch {
	case !strings.Contains(origin, "://"):
		// localhost:3000 parses as the scheme "localhost"; say what was meant.
		return "want a URL with a scheme; did you mean http://" + origin + "?"
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme must be http or https"
	case u.Host == "":
		return "no host"
	case u.User != nil:
		return "must not contain user information"
	case u.RawQuery != "" || u.ForceQuery:
		return "must not have a query"
	case u.Fragment != "":
		return "must not have a fragment"
	}
	return ""
}

// invalid is the one shape of every configuration error: where the value
// came from (a flag like --max-memory or a variable like HOARD_MAX_MEMORY),
// the value, and why it is wrong.
func invalid(source, value string, reason error) error {
	return fmt.Errorf("%s %q: %w", source, value, reason)
}

// StoreSpec is a parsed --store value.
type StoreSpec struct {
	Kind  string   // "memory", "disk" or "redis"
	Path  string   // disk: the directory
	URL   string   // redis: the redis:// URL of a single server
	Addrs []string // redis: Cluster seed addresses, when more than one
}

// ParseStore reads a --store value: memory, disk:PATH or redis://... .
func ParseStore(s string) (StoreSpec, error) {
	switch {
	case s == "" || s == "memory":
		return StoreSpec{Kind: "memory"}, nil
	case strings.HasPrefix(s, "disk:"):
		path := strings.TrimPrefix(s, "disk:")
		if path == "" {
			return StoreSpec{}, errors.New("disk: needs a directory, like disk:/var/cache/hoard")
		}
		return StoreSpec{Kind: "disk", Path: path}, nil
	case strings.HasPrefix(s, "redis://"), strings.HasPrefix(s, "rediss://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return StoreSpec{}, errors.New("want redis://HOST:PORT/DB")
		}
		hosts := strings.Split(u.Host, ",")
		for i, h := range hosts {
			if hosts[i], err = redisAddr(h); err != nil {
				return StoreSpec{}, err
			}
		}
		if len(hosts) > 1 {
			return StoreSpec{Kind: "redis", Addrs: hosts}, nil
		}
		return StoreSpec{Kind: "redis", URL: s}, nil
	}
	return StoreSpec{}, errors.New("want memory, disk:PATH or redis://HOST:PORT/DB")
}

// redisPort is Redis's own port, meant by an address without one.
const redisPort = "6379"

// redisAddr returns the address h of a Redis server as host:port, with
// port 6379 when h has none.
func redisAddr(h string) (string, error) {
	if _, port, err := net.SplitHostPort(h); err == nil && port != "" {
		return h, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if host == "" || strings.ContainsAny(host, "[]") || strings.HasSuffix(h, ":") {
		return "", fmt.Errorf("address %q of a Redis server: want HOST:PORT", h)
	}
	return net.JoinHostPort(host, redisPort), nil
}

// RedactStore returns a --store value fit for logs and messages: the
// password of a redis:// URL replaced by ***, as in redis://:***@host:6379/0.
// Other values are returned as they are.
func RedactStore(s string) string {
	if !strings.HasPrefix(s, "redis://") && !strings.HasPrefix(s, "rediss://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable: hide everything between the scheme and the last @,
		// where a password would be.
		scheme, rest, _ := strings.Cut(s, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return scheme + "://***" + rest[at:]
		}
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	// Built by hand: url.UserPassword would escape the stars.
	user := url.User(u.User.Username()).String()
	u.User = nil
	prefix := u.Scheme + "://"
	return prefix + user + ":***@" + strings.TrimPrefix(u.String(), prefix)
}
