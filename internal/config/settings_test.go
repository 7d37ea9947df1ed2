package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap is a fake environment for Load.
type envMap map[string]string

func (e envMap) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

func load(args []string, env envMap) (Config, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, env.lookup)
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		env   envMap
		check func(c Config) string // says what is wrong, or ""
	}{
		{"defaults stay without env or flags",
			[]string{"--origin", "http://o"}, nil,
			func(c Config) string {
				want := Default()
				want.Origin = "http://o"
				return diff(reflect.DeepEqual(c, want), c, "want", want)
			}},
		{"env beats default",
			nil, envMap{"HOARD_ORIGIN": "http://env", "HOARD_MAX_MEMORY": "1GiB"},
			func(c Config) string {
				return diff(c.Origin == "http://env" && c.MaxMemory == 1<<30, c.Origin, c.MaxMemory)
			}},
		{"flag beats env",
			[]string{"--max-memory=2GiB"}, envMap{"HOARD_ORIGIN": "http://env", "HOARD_MAX_MEMORY": "1GiB"},
			func(c Config) string { return diff(c.MaxMemory == 2<<30, c.MaxMemory) }},
		{"last flag wins",
			[]string{"--origin", "http://a", "--origin", "http://b"}, nil,
			func(c Config) string { return diff(c.Origin == "http://b", c.Origin) }},
		{"empty env counts as unset",
			[]string{"--origin", "http://o"}, envMap{"HOARD_LISTEN": ""},
			func(c Config) string { return diff(c.Listen == "127.0.0.1:8080", c.Listen) }},
		{"bool flag without value",
			[]string{"--demo"}, nil,
			func(c Config) string { return diff(c.Demo, c.Demo) }},
		{"bool env",
			nil, envMap{"HOARD_DEMO": "true"},
			func(c Config) string { return diff(c.Demo, c.Demo) }},
		{"bool flag turns env off",
			[]string{"--demo=false", "--origin=http://o"}, envMap{"HOARD_DEMO": "1"},
			func(c Config) string { return diff(!c.Demo, c.Demo) }},
		{"every setting by flag",
			[]string{"-listen=:0", "-origin=https://o/p", "-max-memory=10MB", "-max-object-size=1MB",
				"-heuristic-max=1h", "-origin-timeout=5s", "-log-level=DEBUG", "-log-format=json",
				"-store=disk:/tmp/x", "-max-disk=2GiB", "-admin-listen=127.0.0.1:0", "-purge-allow=10.0.0.0/8, 192.0.2.1",
				"-stale-if-error=1m", "-origin-connect-timeout=2s", "-origin-idle-timeout=1m", "-origin-max-conns=64",
				"-origin-max-backoff=0s", "-cpus=2", "-http-server=net", "-max-header-bytes=8KiB",
				"-client-header-timeout=5s", "-client-idle-timeout=30s", "-client-body-timeout=0s",
				"-client-write-timeout=20s", "-max-conns=100", "-trusted-proxies=10.1.2.3/8,2001:db8::7",
				"-access-log=/tmp/access.log", "-access-log-format=json", "-shutdown-grace=30s"}, nil,
			func(c Config) string {
				want := Config{Listen: ":0", Origin: "https://o/p", MaxMemory: 10e6, MaxObjectSize: 1e6,
					HeuristicMax: time.Hour, OriginTimeout: 5 * time.Second, LogLevel: slog.LevelDebug, LogFormat: LogJSON,
					Store: "disk:/tmp/x", MaxDisk: 2 << 30, AdminListen: "127.0.0.1:0", StaleIfError: time.Minute,
					OriginConnectTimeout: 2 * time.Second, OriginIdleTimeout: time.Minute, OriginMaxConns: 64, CPUs: 2,
					PurgeAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")},
					HTTPServer: "net", MaxHeaderBytes: 8 << 10, ClientHeaderTimeout: 5 * time.Second,
					ClientIdleTimeout: 30 * time.Second, ClientWriteTimeout: 20 * time.Second, MaxConns: 100,
					TrustedProxies:  []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::7/128")},
					AccessLog:       "/tmp/access.log",
					AccessLogFormat: AccessJSON,
					ShutdownGrace:   30 * time.Second}
				return diff(reflect.DeepEqual(c, want), c, "want", want)
			}},
		{"every setting by env",
			nil, envMap{"HOARD_LISTEN": ":0", "HOARD_ORIGIN": "https://o/p", "HOARD_MAX_MEMORY": "10MB",
				"HOARD_MAX_OBJECT_SIZE": "1MB", "HOARD_HEURISTIC_MAX": "1h", "HOARD_ORIGIN_TIMEOUT": "5s",
				"HOARD_LOG_LEVEL": "warn", "HOARD_LOG_FORMAT": "JSON", "HOARD_STORE": "redis://127.0.0.1:6379/0",
				"HOARD_MAX_DISK": "1MiB", "HOARD_ADMIN_LISTEN": "127.0.0.1:9080", "HOARD_PURGE_ALLOW": "::1/128",
				"HOARD_STALE_IF_ERROR": "10s", "HOARD_ORIGIN_CONNECT_TIMEOUT": "1s", "HOARD_ORIGIN_IDLE_TIMEOUT": "5m",
				"HOARD_ORIGIN_MAX_CONNS": "8", "HOARD_ORIGIN_MAX_BACKOFF": "30s", "HOARD_CPUS": "1",
				"HOARD_HTTP_SERVER": "front", "HOARD_MAX_HEADER_BYTES": "1MiB", "HOARD_CLIENT_HEADER_TIMEOUT": "1m",
				"HOARD_CLIENT_IDLE_TIMEOUT": "1h", "HOARD_CLIENT_BODY_TIMEOUT": "2m", "HOARD_CLIENT_WRITE_TIMEOUT": "0s",
				"HOARD_MAX_CONNS": "0", "HOARD_TRUSTED_PROXIES": " 127.0.0.1/32 , fd00::/8",
				"HOARD_ACCESS_LOG": "-", "HOARD_ACCESS_LOG_FORMAT": "JSON", "HOARD_SHUTDOWN_GRACE": "0s"},
			func(c Config) string {
				want := Config{Listen: ":0", Origin: "https://o/p", MaxMemory: 10e6, MaxObjectSize: 1e6,
					HeuristicMax: time.Hour, OriginTimeout: 5 * time.Second, LogLevel: slog.LevelWarn, LogFormat: LogJSON,
					Store: "redis://127.0.0.1:6379/0", MaxDisk: 1 << 20, AdminListen: "127.0.0.1:9080", StaleIfError: 10 * time.Second,
					OriginConnectTimeout: time.Second, OriginIdleTimeout: 5 * time.Minute, OriginMaxConns: 8, OriginMaxBackoff: 30 * time.Second, CPUs: 1,
					PurgeAllow: []netip.Prefix{netip.MustParsePrefix("::1/128")},
					HTTPServer: "front", MaxHeaderBytes: 1 << 20, ClientHeaderTimeout: time.Minute,
					ClientIdleTimeout: time.Hour, ClientBodyTimeout: 2 * time.Minute,
					TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")},
					AccessLog:      "-", AccessLogFormat: AccessJSON}
				return diff(reflect.DeepEqual(c, want), c, "want", want)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.args, tt.env)
			if err != nil {
				t.Fatalf("Load(%q, %v) error %v", tt.args, tt.env, err)
			}
			if problem := tt.check(c); problem != "" {
				t.Fatalf("Load(%q, %v): %s", tt.args, tt.env, problem)
			}
		})
	}
}

// diff returns "" if ok, and otherwise the values to show.
func diff(ok bool, values ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf("got %+v", values)
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  envMap
		want string // the whole error
	}{
		{"bad size flag", []string{"--origin=http://o", "--max-memory", "lots"}, nil,
			`--max-memory "lots": want a whole number of bytes with an optional unit, like 512B, 64KiB, 10MB or 1GiB`},
		{"bad size env names the variable", nil, envMap{"HOARD_ORIGIN": "http://o", "HOARD_MAX_MEMORY": "abc"},
			`HOARD_MAX_MEMORY "abc": want a whole number of bytes with an optional unit, like 512B, 64KiB, 10MB or 1GiB`},
		{"bad duration flag", []string{"--origin=http://o", "--origin-timeout=5"}, nil,
			`--origin-timeout "5": want a number with a unit, like 500ms, 30s, 5m or 24h`},
		{"bad bool env", nil, envMap{"HOARD_DEMO": "yes"},
			`HOARD_DEMO "yes": want true or false`},
		{"bad bool flag", []string{"--demo=maybe"}, nil,
			`--demo "maybe": want true or false`},
		{"bad cpus flag", []string{"--origin=http://o", "--cpus=two"}, nil,
			`--cpus "two": want a whole number`},
		{"bad cpus env names the variable", []string{"--origin=http://o"}, envMap{"HOARD_CPUS": "all"},
			`HOARD_CPUS "all": want a whole number`},
		{"negative cpus by env is named by its flag", nil, envMap{"HOARD_ORIGIN": "http://o", "HOARD_CPUS": "-2"},
			`--cpus "-2": must not be negative (0 means every CPU)`},
		{"absurd cpus flag", []string{"--origin=http://o", "--cpus=100000"}, nil,
			`--cpus "100000": must be at most 4096`},
		{"bad level", []string{"--origin=http://o", "--log-level=trace"}, nil,
			`--log-level "trace": want debug, info, warn or error`},
		{"bad format env", []string{"--origin=http://o"}, envMap{"HOARD_LOG_FORMAT": "xml"},
			`HOARD_LOG_FORMAT "xml": want text or json`},
		{"bad env is reported even when a flag overrides it",
			[]string{"--origin=http://o", "--max-memory=1GiB"}, envMap{"HOARD_MAX_MEMORY": "abc"},
			`HOARD_MAX_MEMORY "abc": want a whole number of bytes with an optional unit, like 512B, 64KiB, 10MB or 1GiB`},
		{"every bad flag is reported, by name", []string{"--origin=http://o", "--max-memory=x", "--log-format=y"}, nil,
			`--log-format "y": want text or json` + "\n" +
				`--max-memory "x": want a whole number of bytes with an optional unit, like 512B, 64KiB, 10MB or 1GiB`},
		{"validation runs after loading", []string{"--origin=ftp://x"}, nil,
			`--origin "ftp://x": scheme must be http or https`},
		{"validation sees env and flags together", []string{"--max-object-size=2GiB"},
			envMap{"HOARD_ORIGIN": "http://o", "HOARD_MAX_MEMORY": "1GiB"},
			`--max-object-size "2GiB": must not exceed --max-memory 1GiB`},
		{"bad trusted proxy flag", []string{"--origin=http://o", "--trusted-proxies=10.0.0.0/8,lb.internal"}, nil,
			`--trusted-proxies "10.0.0.0/8,lb.internal": "lb.internal" is not a CIDR like 10.0.0.0/8 or an address`},
		{"bad trusted proxy env names the variable", []string{"--origin=http://o"},
			envMap{"HOARD_TRUSTED_PROXIES": "10.0.0.0/33"},
			`HOARD_TRUSTED_PROXIES "10.0.0.0/33": "10.0.0.0/33" is not a CIDR like 10.0.0.0/8 or an address`},
		{"unknown flag", []string{"--bogus"}, nil, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.args, tt.env)
			if err == nil {
				t.Fatalf("Load(%q, %v) = %+v, want error %q", tt.args, tt.env, c, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Load(%q, %v) error %q, want %q", tt.args, tt.env, err, tt.want)
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	if _, err := load([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(-h) error %v, want flag.ErrHelp", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	RegisterFlags(fs)
	for _, s := range settings {
		f := fs.Lookup(s.name)
		if f == nil {
			t.Errorf("flag --%s not registered", s.name)
			continue
		}
		if f.DefValue != s.def {
			t.Errorf("flag --%s default %q, want %q", s.name, f.DefValue, s.def)
		}
		if env := "[$" + envName(s.name) + "]"; !strings.Contains(f.Usage, env) {
			t.Errorf("flag --%s usage %q does not name %s", s.name, f.Usage, env)
		}
	}
	if got := envName("max-object-size"); got != "HOARD_MAX_OBJECT_SIZE" {
		t.Errorf("envName(max-object-size) = %q, want HOARD_MAX_OBJECT_SIZE", got)
	}
}

// An empty --purge-allow= allows no address: it gives an empty list, never
// nil, which proxy.Options reads as "loopback allowed".
func TestEmptyPurgeAllowAllowsNoOne(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := Load(fs, []string{"--origin", "http://o", "--purge-allow="}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PurgeAllow == nil {
		t.Errorf("--purge-allow= gives a nil list, which proxy.Options reads as 'loopback allowed'")
	}
}

func TestUnknownEnv(t *testing.T) {
	t.Parallel()
	environ := []string{"HOARD_MAX_MEMORY=1GiB", "HOARD_MAX_MEMROY=1GiB", "PATH=/bin", "HOARD_=x", "HOARDING=1", "HOARD_LISTEN"}
	got := UnknownEnv(environ)
	if want := []string{"HOARD_MAX_MEMROY", "HOARD_"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv(%q) = %q, want %q", environ, got, want)
	}
}
