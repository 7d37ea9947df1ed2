package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// settings is the one table of user-facing settings. Adding a setting means
// adding its field to Config (with its documentation) and one entry here:
// its flag, environment variable, default and help text all come from the
// entry. Validate is the place for rules that relate one field to another.
var settings = []setting{
	{name: "listen", def: "127.0.0.1:8080",
		usage: "`address` (host:port) to accept client connections on",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.Listen) }},
	{name: "origin",
		usage: "`URL` of the server to cache (http or https); required unless --demo",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.Origin) }},
	{name: "demo",
		usage: "cache a built-in sample origin and print curl commands to try",
		bind:  func(c *Config) flag.Value { return (*boolValue)(&c.Demo) }},
	{name: "max-memory", def: "256MiB",
		usage: "`size` of the memory store, like 256MiB, 1GiB or 500MB",
		bind:  func(c *Config) flag.Value { return (*sizeValue)(&c.MaxMemory) }},
	{name: "max-object-size", def: "16MiB",
		usage: "`size` of the largest body stored; larger ones pass through uncached",
		bind:  func(c *Config) flag.Value { return (*sizeValue)(&c.MaxObjectSize) }},
	{name: "heuristic-max", def: "24h",
		usage: "`duration` cap on guessed freshness for responses with only Last-Modified",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.HeuristicMax) }},
	{name: "origin-timeout", def: "30s",
		usage: "`duration` to wait for the origin's response header before answering 504",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.OriginTimeout) }},
	{name: "store", def: "memory",
		usage: "`where` responses are kept: memory, disk:PATH or redis://HOST:PORT/DB (memory stays in front)",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.Store) }},
	{name: "max-disk", def: "1GiB",
		usage: "`size` of the disk store",
		bind:  func(c *Config) flag.Value { return (*sizeValue)(&c.MaxDisk) }},
	{name: "admin-listen", def: "",
		usage: "`address` (host:port) of the admin API; empty: off",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.AdminListen) }},
	{name: "shutdown-grace", def: "10s",
		usage: "`duration` requests in flight get to finish after SIGTERM or SIGINT (0s: cut at once)",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.ShutdownGrace) }},
	{name: "purge-allow", def: "127.0.0.0/8,::1/128",
		usage: "client `networks` (comma-separated CIDRs) allowed to send PURGE",
		bind:  func(c *Config) flag.Value { return (*prefixListValue)(&c.PurgeAllow) }},
	{name: "trusted-proxies",
		usage: "`networks` (comma-separated CIDRs) of proxies in front whose forwarding fields are kept",
		bind:  func(c *Config) flag.Value { return (*prefixListValue)(&c.TrustedProxies) }},
	{name: "origin-connect-timeout", def: "5s",
		usage: "`duration` allowed for opening a connection to the origin",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.OriginConnectTimeout) }},
	{name: "origin-idle-timeout", def: "90s",
		usage: "`duration` an idle keep-alive connection to the origin is kept",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.OriginIdleTimeout) }},
	{name: "origin-max-conns", def: "0",
		usage: "`number` of connections open to the origin at most (0: no bound)",
		bind:  func(c *Config) flag.Value { return (*intValue)(&c.OriginMaxConns) }},
	{name: "origin-max-backoff", def: "5s",
		usage: "longest `duration` of not dialling an origin that refuses connections (0s: off)",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.OriginMaxBackoff) }},
	{name: "stale-if-error", def: "60s",
		usage: "`duration` a stale response may still be served while the origin fails (0s: only when the response allows it)",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.StaleIfError) }},
	{name: "http-server", def: "front",
		usage: "`server` of client connections: front (Hoard's own, net/http for the rest) or net (net/http only)",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.HTTPServer) }},
	{name: "max-header-bytes", def: "64KiB",
		usage: "`size` of the largest request head accepted (larger: 431)",
		bind:  func(c *Config) flag.Value { return (*sizeValue)(&c.MaxHeaderBytes) }},
	{name: "client-header-timeout", def: "10s",
		usage: "`duration` a client has to send a whole request head",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.ClientHeaderTimeout) }},
	{name: "client-idle-timeout", def: "120s",
		usage: "`duration` a keep-alive connection may wait for its next request",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.ClientIdleTimeout) }},
	{name: "client-body-timeout", def: "60s",
		usage: "`duration` a request body may stop arriving before the connection is closed (0s: no bound)",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.ClientBodyTimeout) }},
	{name: "client-write-timeout", def: "60s",
		usage: "`duration` a write to a client may make no progress before the connection is closed (0s: no bound)",
		bind:  func(c *Config) flag.Value { return (*durationValue)(&c.ClientWriteTimeout) }},
	{name: "max-conns", def: "10000",
		usage: "`number` of client connections open at once; beyond it idle ones are closed or new ones wait (0: no bound)",
		bind:  func(c *Config) flag.Value { return (*intValue)(&c.MaxConns) }},
	{name: "cpus", def: "0",
		usage: "`number` of threads running Go code at once (GOMAXPROCS; 0: every CPU the process may use)",
		bind:  func(c *Config) flag.Value { return (*intValue)(&c.CPUs) }},
	{name: "log-level", def: "info",
		usage: "least severe `level` logged: debug, info, warn or error",
		bind:  func(c *Config) flag.Value { return (*levelValue)(&c.LogLevel) }},
	{name: "log-format", def: "text",
		usage: "`format` of log lines on standard error: text or json",
		bind:  func(c *Config) flag.Value { return (*formatValue)(&c.LogFormat) }},
	{name: "access-log",
		usage: "`path` of the access log, a line per request (- for standard output; empty: none)",
		bind:  func(c *Config) flag.Value { return (*stringValue)(&c.AccessLog) }},
	{name: "access-log-format", def: "combined",
		usage: "`format` of access log lines: combined or json",
		bind:  func(c *Config) flag.Value { return (*accessFormatValue)(&c.AccessLogFormat) }},
}

// A setting is one user-facing option.
type setting struct {
	name  string                     // flag name without dashes; the variable is envName(name)
	def   string                     // default as the user would write it; "" means the zero value
	usage string                     // one line of help; a `quoted` word names the value
	bind  func(c *Config) flag.Value // the parser of the value, writing into c's field
}

// envName is the environment variable of the flag name: HOARD_ and the name
// in upper case with dashes turned into underscores.
func envName(flagName string) string {
	return "HOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load returns the configuration given by the defaults, then the environment
// (looked up with lookupEnv, usually os.LookupEnv), then the flags in args,
// each overriding the one before. It registers the flags on fs and parses
// args with it, so the caller may add flags of its own before, and read
// fs.Args() after. It returns flag.ErrHelp if args ask for help, and an error
// naming the flag or variable and the bad value otherwise; the Config it
// returns without error has passed Validate.
func Load(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	c := Default()
	if err := c.ApplyEnv(lookupEnv); err != nil {
		return Config{}, err
	}
	if err := c.ApplyFlags(fs); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// RegisterFlags defines a flag on fs for every setting, with its usage
// (naming its environment variable) and default. Parsing only records the
// text given; ApplyFlags then converts it into a Config, so that a bad value
// is reported in the same words as everywhere else and precedence does not
// depend on the order of calls.
func RegisterFlags(fs *flag.FlagSet) {
	for i := range settings {
		s := &settings[i]
		_, isBool := s.bind(&Config{}).(*boolValue)
		fs.Var(&flagValue{s: s, isBool: isBool}, s.name, s.usage+" [$"+envName(s.name)+"]")
	}
}

// ApplyFlags sets c's fields from the flags given on the command line parsed
// by fs (registered with RegisterFlags), in the order of their names, leaving
// the others alone. A bad value
// is an error like `--max-memory "abc": ...`.
func (c *Config) ApplyFlags(fs *flag.FlagSet) error {
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		v, ok := f.Value.(*flagValue)
		if !ok {
			return // a flag of the caller's own
		}
		if err := v.s.bind(c).Set(v.raw); err != nil {
			errs = append(errs, invalid("--"+f.Name, v.raw, err))
		}
	})
	return errors.Join(errs...)
}

// ApplyEnv sets c's fields from the HOARD_* environment variables that
// lookupEnv finds, leaving the others alone. An empty variable counts as
// unset. A bad value is an error like `HOARD_MAX_MEMORY "abc": ...`.
func (c *Config) ApplyEnv(lookupEnv func(string) (string, bool)) error {
	var errs []error
	for i := range settings {
		s := &settings[i]
		name := envName(s.name)
		raw, ok := lookupEnv(name)
		if !ok || raw == "" {
			continue
		}
		if err := s.bind(c).Set(raw); err != nil {
			errs = append(errs, invalid(name, raw, err))
		}
	}
	return errors.Join(errs...)
}

// UnknownEnv returns the names of the HOARD_* variables in environ
// (os.Environ's "NAME=value" lines) that no setting reads, such as a
// misspelt HOARD_MAX_MEMROY, in the order given; the caller warns of them.
func UnknownEnv(environ []string) []string {
	known := make(map[string]bool, len(settings))
	for i := range settings {
		known[envName(settings[i].name)] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HOARD_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// flagValue records the text a flag was given, for ApplyFlags.
type flagValue struct {
	s      *setting
	raw    string
	isBool bool
}

func (v *flagValue) Set(raw string) error { v.raw = raw; return nil }
func (v *flagValue) IsBoolFlag() bool     { return v.isBool }

func (v *flagValue) String() string {
	if v == nil || v.s == nil {
		return "" // flag.PrintDefaults calls this on a zero value
	}
	if v.raw != "" {
		return v.raw
	}
	return v.s.def
}

// The parsers of setting values. Their errors say only what is wrong: the
// caller adds where the value came from and the value itself.

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a whole number")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

type prefixListValue []netip.Prefix

func (v *prefixListValue) Set(s string) error {
	out := []netip.Prefix{} // empty, not nil: for --purge-allow=, nobody may purge
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR like 10.0.0.0/8 or an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	*v = out
	return nil
}

func (v *prefixListValue) String() string {
	parts := make([]string, len(*v))
	for i, p := range *v {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

type sizeValue int64

func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}
func (v *sizeValue) String() string { return FormatSize(int64(*v)) }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a number with a unit, like 500ms, 30s, 5m or 24h")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

// levelNames are the log levels a user may choose, by name.
var levelNames = map[slog.Level]string{
	slog.LevelDebug: "debug",
	slog.LevelInfo:  "info",
	slog.LevelWarn:  "warn",
	slog.LevelError: "error",
}

type levelValue slog.Level

func (v *levelValue) Set(s string) error {
	for level, name := range levelNames {
		if strings.EqualFold(s, name) {
			*v = levelValue(level)
			return nil
		}
	}
	return errors.New("want debug, info, warn or error")
}

func (v *levelValue) String() string {
	if name, ok := levelNames[slog.Level(*v)]; ok {
		return name
	}
	return slog.Level(*v).String()
}

type formatValue LogFormat

func (v *formatValue) Set(s string) error {
	switch f := LogFormat(strings.ToLower(s)); f {
	case LogText, LogJSON:
		*v = formatValue(f)
		return nil
	}
	return errors.New("want text or json")
}
func (v *formatValue) String() string { return string(*v) }

type accessFormatValue AccessLogFormat

func (v *accessFormatValue) Set(s string) error {
	switch f := AccessLogFormat(strings.ToLower(s)); f {
	case AccessCombined, AccessJSON:
		*v = accessFormatValue(f)
		return nil
	}
	return errors.New("want combined or json")
}
func (v *accessFormatValue) String() string { return string(*v) }
