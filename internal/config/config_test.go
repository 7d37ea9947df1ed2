package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	want := Config{
		Listen:        "127.0.0.1:8080",
		MaxMemory:     256 << 20,
		MaxObjectSize: 16 << 20,
		HeuristicMax:  24 * time.Hour,
		OriginTimeout: 30 * time.Second,
		LogLevel:      slog.LevelInfo,
		LogFormat:     LogText,

		AccessLogFormat: AccessCombined,
		Store:           "memory",
		MaxDisk:         1 << 30,
		StaleIfError:    time.Minute,

		OriginConnectTimeout: 5 * time.Second,
		OriginIdleTimeout:    90 * time.Second,
		OriginMaxBackoff:     5 * time.Second,
		PurgeAllow:           []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},

		HTTPServer:          "front",
		MaxHeaderBytes:      64 << 10,
		ClientHeaderTimeout: 10 * time.Second,
		ClientIdleTimeout:   120 * time.Second,
		ClientBodyTimeout:   time.Minute,
		ClientWriteTimeout:  time.Minute,
		MaxConns:            10000,
		ShutdownGrace:       10 * time.Second,
	}
	got := Default()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Default() = %+v, want %+v", got, want)
	}
	got.Origin = "http://127.0.0.1:9000"
	if err := got.Validate(); err != nil {
		t.Fatalf("Default() with an origin: Validate() = %v, want nil", err)
	}
}

// valid returns a configuration that passes Validate, for rows to break.
func valid() Config {
	c := Default()
	c.Origin = "http://127.0.0.1:9000"
	return c
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // the whole error; "" means valid
	}{
		{"defaults with an origin", func(c *Config) {}, ""},
		{"https origin with a path", func(c *Config) { c.Origin = "https://example.com/app" }, ""},
		{"demo without origin", func(c *Config) { c.Origin, c.Demo = "", true }, ""},
		{"listen on every interface", func(c *Config) { c.Listen = ":8080" }, ""},
		{"object as large as memory", func(c *Config) { c.MaxObjectSize = c.MaxMemory }, ""},
		{"one CPU", func(c *Config) { c.CPUs = 1 }, ""},
		{"as many CPUs as accepted", func(c *Config) { c.CPUs = 4096 }, ""},

		{"origin missing", func(c *Config) { c.Origin = "" },
			"--origin is required (or use --demo to try the built-in sample origin)"},
		{"origin with demo", func(c *Config) { c.Demo = true },
			`--origin "http://127.0.0.1:9000": not allowed with --demo, which runs its own origin`},
		{"origin scheme", func(c *Config) { c.Origin = "ftp://x" },
			`--origin "ftp://x": scheme must be http or https`},
		{"origin without scheme", func(c *Config) { c.Origin = "example.com" },
			`--origin "example.com": want a URL with a scheme; did you mean http://example.com?`},
		{"origin host:port without scheme", func(c *Config) { c.Origin = "localhost:3000" },
			`--origin "localhost:3000": want a URL with a scheme; did you mean http://localhost:3000?`},
		{"origin without host", func(c *Config) { c.Origin = "http:///path" },
			`--origin "http:///path": no host`},
		{"origin unparsable", func(c *Config) { c.Origin = "http://[::1" },
			`--origin "http://[::1": not a URL`},
		{"origin with user", func(c *Config) { c.Origin = "http://u:p@x" },
			`--origin "http://u:p@x": must not contain user information`},
		{"origin with query", func(c *Config) { c.Origin = "http://x/?a=1" },
			`--origin "http://x/?a=1": must not have a query`},
		{"origin with fragment", func(c *Config) { c.Origin = "http://x/#top" },
			`--origin "http://x/#top": must not have a fragment`},
		{"listen without port", func(c *Config) { c.Listen = "localhost" },
			`--listen "localhost": want host:port, like 127.0.0.1:8080 or :8080`},
		{"listen on a port past 65535", func(c *Config) { c.Listen = ":99999" },
			`--listen ":99999": port 99999 is out of range; want a port from 0 to 65535, like 127.0.0.1:8080 or :8080`},
		{"listen on a port that is no number", func(c *Config) { c.Listen = "127.0.0.1:eighty" },
			`--listen "127.0.0.1:eighty": port "eighty" is not a number from 0 to 65535, like 127.0.0.1:8080 or :8080`},
		{"listen on a service name", func(c *Config) { c.Listen = "127.0.0.1:http" }, ""},
		{"admin on a port past 65535", func(c *Config) { c.AdminListen = "127.0.0.1:70000" },
			`--admin-listen "127.0.0.1:70000": port 70000 is out of range; want a port from 0 to 65535, like 127.0.0.1:9080`},
		{"admin on the proxy's address", func(c *Config) { c.AdminListen = c.Listen },
			`--admin-listen "127.0.0.1:8080": the same address as --listen 127.0.0.1:8080; give the admin API an address of its own, like 127.0.0.1:9080`},
		{"admin on the proxy's port of every interface", func(c *Config) { c.Listen, c.AdminListen = ":8080", "127.0.0.1:8080" },
			`--admin-listen "127.0.0.1:8080": the same address as --listen :8080; give the admin API an address of its own, like 127.0.0.1:9080`},
		{"admin on another port", func(c *Config) { c.AdminListen = "127.0.0.1:9080" }, ""},
		{"admin and proxy both on free ports", func(c *Config) { c.Listen, c.AdminListen = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"admin on the same port of another address", func(c *Config) { c.Listen, c.AdminListen = "10.0.0.1:8080", "127.0.0.1:8080" }, ""},
		{"shutdown grace zero cuts at once", func(c *Config) { c.ShutdownGrace = 0 }, ""},
		{"shutdown grace negative", func(c *Config) { c.ShutdownGrace = -time.Second },
			`--shutdown-grace "-1s": must not be negative (0s: cut requests at once)`},
		{"redis store without a port", func(c *Config) { c.Store = "redis://10.0.0.5/0" }, ""},
		{"bad redis store hides its password", func(c *Config) { c.Store = "redis://:hunter2@10.0.0.5:6379,[::1/0" },
			`--store "redis://***@10.0.0.5:6379,[::1/0": want redis://HOST:PORT/DB`},
		{"memory zero", func(c *Config) { c.MaxMemory = 0 },
			`--max-memory "0B": must be positive`},
		{"object size negative", func(c *Config) { c.MaxObjectSize = -1 },
			`--max-object-size "-1B": must be positive`},
		{"object larger than memory", func(c *Config) { c.MaxMemory, c.MaxObjectSize = 16<<20, 32<<20 },
			`--max-object-size "32MiB": must not exceed --max-memory 16MiB`},
		{"heuristic max zero", func(c *Config) { c.HeuristicMax = 0 },
			`--heuristic-max "0s": must be positive`},
		{"origin timeout negative", func(c *Config) { c.OriginTimeout = -time.Second },
			`--origin-timeout "-1s": must be positive`},
		{"cpus negative", func(c *Config) { c.CPUs = -1 },
			`--cpus "-1": must not be negative (0 means every CPU)`},
		{"cpus absurd", func(c *Config) { c.CPUs = 4097 },
			`--cpus "4097": must be at most 4096`},
		{"log level between names", func(c *Config) { c.LogLevel = slog.LevelInfo + 1 },
			`--log-level "INFO+1": want debug, info, warn or error`},
		{"log format unknown", func(c *Config) { c.LogFormat = "xml" },
			`--log-format "xml": want text or json`},
		{"net/http for every request", func(c *Config) { c.HTTPServer = "net" }, ""},
		{"no write or body bound", func(c *Config) { c.ClientWriteTimeout, c.ClientBodyTimeout, c.MaxConns = 0, 0, 0 }, ""},
		{"http server unknown", func(c *Config) { c.HTTPServer = "nginx" },
			`--http-server "nginx": want front or net`},
		{"header bytes too few", func(c *Config) { c.MaxHeaderBytes = 1 << 10 },
			`--max-header-bytes "1KiB": must be from 4KiB to 16MiB`},
		{"header bytes absurd", func(c *Config) { c.MaxHeaderBytes = 1 << 30 },
			`--max-header-bytes "1GiB": must be from 4KiB to 16MiB`},
		{"header timeout zero", func(c *Config) { c.ClientHeaderTimeout = 0 },
			`--client-header-timeout "0s": must be positive`},
		{"idle timeout zero", func(c *Config) { c.ClientIdleTimeout = 0 },
			`--client-idle-timeout "0s": must be positive`},
		{"body timeout negative", func(c *Config) { c.ClientBodyTimeout = -time.Second },
			`--client-body-timeout "-1s": must not be negative (0s: no bound)`},
		{"write timeout negative", func(c *Config) { c.ClientWriteTimeout = -time.Second },
			`--client-write-timeout "-1s": must not be negative (0s: no bound)`},
		{"max conns negative", func(c *Config) { c.MaxConns = -1 },
			`--max-conns "-1": must not be negative (0: no bound)`},
		{"every error is reported", func(c *Config) { c.Origin, c.MaxMemory = "", 0 },
			"--origin is required (or use --demo to try the built-in sample origin)\n" +
				`--max-memory "0B": must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate(%+v) = %v, want nil", c, err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate(%+v) = nil, want %q", c, tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Fatalf("Validate() = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestSettingsCoverConfig pins the promise that every field of Config is set
// by exactly one entry of the settings table, so a new field cannot be
// forgotten there.
func TestSettingsCoverConfig(t *testing.T) {
	t.Parallel()
	var c Config
	v := reflect.ValueOf(&c).Elem()
	bound := map[uintptr]string{} // field address → flag name
	names := map[string]bool{}
	for _, s := range settings {
		if names[s.name] {
			t.Errorf("flag --%s appears twice in settings", s.name)
		}
		names[s.name] = true
		if s.name != strings.ToLower(s.name) || strings.ContainsAny(s.name, " _") {
			t.Errorf("flag --%s: want lower case words joined by dashes", s.name)
		}
		addr := reflect.ValueOf(s.bind(&c)).Pointer()
		if other, ok := bound[addr]; ok {
			t.Errorf("flags --%s and --%s set the same field", other, s.name)
		}
		bound[addr] = s.name
	}
	for i := range v.NumField() {
		if _, ok := bound[v.Field(i).Addr().Pointer()]; !ok {
			t.Errorf("Config.%s has no entry in settings", v.Type().Field(i).Name)
		}
	}
}

// TestFieldDocs checks that the documentation of each Config field names its
// flag and states the default the settings table really applies.
func TestFieldDocs(t *testing.T) {
	t.Parallel()
	file, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{} // field name → its comment, on one line
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok || spec.Name.Name != "Config" {
			return true
		}
		for _, field := range spec.Type.(*ast.StructType).Fields.List {
			for _, name := range field.Names {
				docs[name.Name] = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})

	var c Config
	v := reflect.ValueOf(&c).Elem()
	for _, s := range settings {
		addr := reflect.ValueOf(s.bind(&c)).Pointer()
		for i := range v.NumField() {
			if v.Field(i).Addr().Pointer() != addr {
				continue
			}
			field := v.Type().Field(i).Name
			doc := docs[field]
			if !strings.Contains(doc, "Flag --"+s.name+".") {
				t.Errorf("Config.%s doc does not say %q: %q", field, "Flag --"+s.name+".", doc)
			}
			if s.def != "" && !strings.Contains(doc, "Default "+s.def) && !strings.Contains(doc, `Default "`+s.def+`"`) {
				t.Errorf("Config.%s doc does not state its default %s: %q", field, s.def, doc)
			}
		}
	}
}

func TestParseStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     StoreSpec
		err      string // the whole error; "" means success
	}{
		{"memory", "memory", StoreSpec{Kind: "memory"}, ""},
		{"disk", "disk:/var/cache/hoard", StoreSpec{Kind: "disk", Path: "/var/cache/hoard"}, ""},
		{"redis with a port", "redis://10.0.0.5:6380/1", StoreSpec{Kind: "redis", URL: "redis://10.0.0.5:6380/1"}, ""},
		{"redis without a port means 6379", "redis://10.0.0.5/0", StoreSpec{Kind: "redis", URL: "redis://10.0.0.5/0"}, ""},
		{"cluster seeds without ports mean 6379", "redis://a,b:7000",
			StoreSpec{Kind: "redis", Addrs: []string{"a:6379", "b:7000"}}, ""},
		{"cluster seed with an empty port", "redis://b:7000,a:", StoreSpec{}, `address "a:" of a Redis server: want HOST:PORT`},
		{"redis without a host", "redis:///0", StoreSpec{}, "want redis://HOST:PORT/DB"},
		{"unknown kind", "tape:/dev/st0", StoreSpec{}, "want memory, disk:PATH or redis://HOST:PORT/DB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStore(tt.in)
			switch {
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Fatalf("ParseStore(%q) = %+v, %v; want error %q", tt.in, got, err, tt.err)
			case tt.err == "" && (err != nil || !reflect.DeepEqual(got, tt.want)):
				t.Fatalf("ParseStore(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRedactStore(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"redis://:hunter2@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"},
		{"rediss://hoard:hunter2@redis.internal/2", "rediss://hoard:***@redis.internal/2"},
		{"redis://hoard@10.0.0.5:6379/0", "redis://hoard@10.0.0.5:6379/0"}, // a user name is no secret
		{"redis://10.0.0.5:6379/0", "redis://10.0.0.5:6379/0"},
		{"redis://:hunter2@[::1/0", "redis://***@[::1/0"}, // unparsable: all before the @ hidden
		{"disk:/var/cache/hoard", "disk:/var/cache/hoard"},
		{"memory", "memory"},
	}
	for _, tt := range tests {
		if got := RedactStore(tt.in); got != tt.want {
			t.Errorf("RedactStore(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(RedactStore(tt.in), "hunter2") {
			t.Errorf("RedactStore(%q) shows the password", tt.in)
		}
	}
}
