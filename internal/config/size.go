package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units a size may carry, binary before decimal so that
// FormatSize prefers the binary one when both are as short. Unit names are
// matched without regard to case, so "mb" is a megabyte, never a millibit.
//
// A bare letter (64M, 64m, 1g) is a binary unit, as in nginx's and
// Varnish's configurations, which operators copy sizes from; with a B it is
// decimal (64MB is 64,000,000 bytes), as on a disk's label. FormatSize
// never writes a bare letter (short marks it), so what Hoard prints always
// says which of the two it means.
var sizeUnits = []struct {
	name  string
	bytes int64
	short bool // a bare-letter alias, read but never written
}{
	{"EiB", 1 << 60, false}, {"PiB", 1 << 50, false}, {"TiB", 1 << 40, false},
	{"GiB", 1 << 30, false}, {"MiB", 1 << 20, false}, {"KiB", 1 << 10, false},
	{"EB", 1e18, false}, {"PB", 1e15, false}, {"TB", 1e12, false}, {"GB", 1e9, false}, {"MB", 1e6, false}, {"KB", 1e3, false},
	{"B", 1, false},
	{"E", 1 << 60, true}, {"P", 1 << 50, true}, {"T", 1 << 40, true},
	{"G", 1 << 30, true}, {"M", 1 << 20, true}, {"K", 1 << 10, true},
}

// ParseSize reads a number of bytes written as a whole number with an
// optional unit: 1024, 512B, 64KiB, 64MiB, 1GiB or 64K, 64M, 1G (powers of
// 1024) or 10KB, 10MB, 10GB (powers of 1000), up to EiB, E and EB. Units
// are case-insensitive and may follow a space. Negative numbers, fractions and values beyond
// math.MaxInt64 are errors.
func ParseSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n, nil
}

// parseSize is ParseSize with errors that do not repeat the input.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && '0' <= s[end] && s[end] <= '9' {
		end++
	}
	digits, unit := s[:end], strings.TrimLeft(s[end:], " ")
	switch {
	case strings.HasPrefix(s, "-"):
		return 0, errors.New("must not be negative")
	case digits == "":
		return 0, errors.New("want a whole number of bytes with an optional unit, like 512B, 64KiB, 10MB or 1GiB")
	case strings.HasPrefix(unit, "."):
		return 0, errors.New("want a whole number; for a fraction use a smaller unit, like 1536MiB for 1.5GiB")
	}
	mult, ok := int64(1), unit == ""
	for _, u := range sizeUnits {
		if equalFoldASCII(unit, u.name) {
			mult, ok = u.bytes, true
			break
		}
	}
	if !ok {
		return 0, fmt.Errorf("unknown unit %q; want B, K or KiB, KB, M or MiB, MB, G or GiB, GB, T or TiB, TB, P or PiB, PB, E or EiB, or EB", unit)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		// Only digits reach ParseInt, so its one possible error is range.
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// equalFoldASCII is strings.EqualFold for ASCII only, so that look-alike
// letters such as the Kelvin sign (U+212A, which folds to k) are not units.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		if lowerASCII(s[i]) != lowerASCII(t[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// FormatSize writes n bytes in the shortest form ParseSize reads back
// exactly, preferring binary units on a tie: 256MiB, 10MB, 1536B.
// A negative n, which ParseSize rejects, is written as plain bytes (-5B).
func FormatSize(n int64) string {
	best := strconv.FormatInt(n, 10) + "B"
	if n <= 0 {
		return best
	}
	for _, u := range sizeUnits {
		if u.short || n%u.bytes != 0 {
			continue
		}
		if s := strconv.FormatInt(n/u.bytes, 10) + u.name; len(s) < len(best) {
			best = s
		}
	}
	return best
}
