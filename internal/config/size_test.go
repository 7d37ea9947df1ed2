package config

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

var parseSizeTests = []struct {
	name string
	in   string
	want int64
	err  string // part of the error; "" means success
}{
	{"plain bytes", "1024", 1024, ""},
	{"zero", "0", 0, ""},
	{"leading zeros", "0064KiB", 64 << 10, ""},
	{"B", "512B", 512, ""},
	{"KiB", "64KiB", 64 << 10, ""},
	{"MiB", "64MiB", 64 << 20, ""},
	{"GiB", "1GiB", 1 << 30, ""},
	{"TiB", "2TiB", 2 << 40, ""},
	{"EiB largest that fits", "7EiB", 7 << 60, ""},
	{"KB is decimal", "1KB", 1000, ""},
	{"MB is decimal", "10MB", 10 * 1000 * 1000, ""},
	{"GB is decimal", "3GB", 3e9, ""},
	{"unit lower case", "64mib", 64 << 20, ""},
	{"unit upper case", "64MIB", 64 << 20, ""},
	{"mb is megabytes, not millibits", "10mb", 10e6, ""},
	{"space before unit", "64 MiB", 64 << 20, ""},
	{"surrounding space", " 1GiB\n", 1 << 30, ""},
	{"max int64", "9223372036854775807", math.MaxInt64, ""},
	{"bare M is MiB, as in nginx and Varnish", "64M", 64 << 20, ""},
	{"bare m is MiB too", "64m", 64 << 20, ""},
	{"bare k is KiB", "512k", 512 << 10, ""},
	{"bare G is GiB", "1G", 1 << 30, ""},
	{"bare E is EiB", "7E", 7 << 60, ""},
	{"MB stays decimal beside bare M", "64MB", 64e6, ""},

	{"empty", "", 0, "want a whole number"},
	{"only a unit", "MiB", 0, "want a whole number"},
	{"garbage", "abc", 0, "want a whole number"},
	{"negative", "-1", 0, "negative"},
	{"negative with unit", "-1KiB", 0, "negative"},
	{"plus sign", "+5", 0, "want a whole number"},
	{"fraction", "1.5GiB", 0, "smaller unit"},
	{"unknown unit", "10XB", 0, `unknown unit "XB"`},
	{"hex", "0x10", 0, "unknown unit"},
	{"unit twice", "1KiBKiB", 0, "unknown unit"},
	{"bare M with i but no B", "1Mi", 0, `unknown unit "Mi"`},
	{"bare E overflows", "8E", 0, "too large"},
	{"tab before unit", "1\tKiB", 0, "unknown unit"},
	{"Kelvin sign is not k", "64\u212aiB", 0, "unknown unit"},
	{"non-ASCII digits", "\u0661\u0662", 0, "want a whole number"},
	{"one past max int64", "9223372036854775808", 0, "too large"},
	{"unit overflows", "8EiB", 0, "too large"},
	{"decimal unit overflows", "10EB", 0, "too large"},
	{"many digits", strings.Repeat("9", 40) + "B", 0, "too large"},
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tt := range parseSizeTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tt.in)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("ParseSize(%q) error %v, want %d", tt.in, err, tt.want)
			case tt.err != "" && err == nil:
				t.Fatalf("ParseSize(%q) = %d, want error containing %q", tt.in, got, tt.err)
			case tt.err != "" && !strings.Contains(err.Error(), tt.err):
				t.Fatalf("ParseSize(%q) error %q, want it to contain %q", tt.in, err, tt.err)
			case tt.err != "" && !strings.Contains(err.Error(), "size "):
				t.Fatalf("ParseSize(%q) error %q does not say what it parsed", tt.in, err)
			case got != tt.want:
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   int64
		want string
	}{
		{"zero", 0, "0B"},
		{"one byte", 1, "1B"},
		{"binary", 1024, "1KiB"},
		{"decimal", 1000, "1KB"},
		{"default memory", 256 << 20, "256MiB"},
		{"decimal megabytes", 10e6, "10MB"},
		{"no unit divides", 1536, "1536B"},
		{"shorter decimal beats binary", 1024000, "1024KB"},
		{"tie goes to binary", 10112000, "9875KiB"},
		{"exbibyte", 1 << 60, "1EiB"},
		{"max int64", math.MaxInt64, "9223372036854775807B"},
		{"negative stays bytes", -5, "-5B"},
		{"never a bare letter, though shorter", 64 << 20, "64MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FormatSize(tt.in); got != tt.want {
				t.Fatalf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, tt := range parseSizeTests {
		f.Add(tt.in)
	}
	f.Add("1 ")       // trailing space after a bare number
	f.Add("1  KiB")   // several spaces before the unit
	f.Add("\xffKiB")  // invalid UTF-8 where the number should be
	f.Add("1Ki\xffB") // invalid UTF-8 inside the unit
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSize(s)
		want, ok := referenceParseSize(s)
		if (err == nil) != ok || got != want {
			t.Fatalf("ParseSize(%q) = %d, %v; the reference says %d, ok=%v", s, got, err, want, ok)
		}
		if err != nil {
			return
		}
		formatted := FormatSize(got)
		again, err := ParseSize(formatted)
		if err != nil || again != got {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d, %v; want %d", got, formatted, again, err, got)
		}
	})
}

// referenceParseSize is ParseSize written the slow, obvious way: a regular
// expression and arbitrary-precision arithmetic.
func referenceParseSize(s string) (int64, bool) {
	m := referenceSize.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	unit, ok := referenceUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, false
	}
	n, _ := new(big.Int).SetString(m[1], 10)
	n.Mul(n, new(big.Int).Exp(big.NewInt(unit.base), big.NewInt(unit.exp), nil))
	if !n.IsInt64() {
		return 0, false
	}
	return n.Int64(), true
}

var referenceSize = regexp.MustCompile(`^([0-9]+) *([A-Za-z]*)$`)

var referenceUnits = map[string]struct{ base, exp int64 }{
	"": {1, 0}, "b": {1, 0},
	"kb": {1000, 1}, "mb": {1000, 2}, "gb": {1000, 3}, "tb": {1000, 4}, "pb": {1000, 5}, "eb": {1000, 6},
	"kib": {1024, 1}, "mib": {1024, 2}, "gib": {1024, 3}, "tib": {1024, 4}, "pib": {1024, 5}, "eib": {1024, 6},
	"k": {1024, 1}, "m": {1024, 2}, "g": {1024, 3}, "t": {1024, 4}, "p": {1024, 5}, "e": {1024, 6},
}
