package config

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Size is a number of bytes, written in the config as "50MB", "1.5 GB",
// "512KiB" or a plain integer.
type Size int64

// Size units. KB, MB and GB are powers of 1000 and KiB, MiB and GiB powers
// of 1024, as SPEC.md fixes, so "50MB" means what a disk vendor means.
const (
	B   Size = 1
	KB  Size = 1000
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// sizeUnits is in the order String tries them: largest first, and the
// decimal unit before the binary one of similar size.
var sizeUnits = []struct {
	name string
	size Size
}{
	{"GB", GB}, {"GiB", GiB}, {"MB", MB}, {"MiB", MiB}, {"KB", KB}, {"KiB", KiB}, {"B", B},
}

// ParseSize reads a size: a non-negative decimal number, optional spaces and
// an optional unit (B, KB, MB, GB, KiB, MiB, GiB, in any case). Without a
// unit the number is bytes. A fraction of a byte is dropped, so
// "0.3KiB" is 307 bytes.
func ParseSize(s string) (Size, error) {
	num, unit := splitSize(strings.TrimSpace(s))
	if !isDecimal(num) {
		return 0, fmt.Errorf("invalid size %q: want a number and a unit, like \"50MB\"", s)
	}
	mult := B
	if unit != "" {
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult, found = u.size, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, KiB, MiB or GiB)", s, unit)
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(mult)))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(n.Int64()), nil
}

// splitSize splits "1.5 GB" into "1.5" and "GB".
func splitSize(s string) (num, unit string) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// isDecimal accepts "12" and "1.5" but not "", ".5", "5." or "1.2.3", so a
// typo is an error rather than a surprising size.
func isDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	return allDigits(whole) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String writes the size in the largest unit that divides it exactly, so
// that ParseSize(s.String()) == s and Default's 50MB prints as "50MB".
func (s Size) String() string {
	if s == 0 {
		return "0B"
	}
	if s < 0 {
		if s == math.MinInt64 {
			return fmt.Sprintf("%dB", int64(s))
		}
		return "-" + (-s).String()
	}
	for _, u := range sizeUnits {
		if s%u.size == 0 {
			return fmt.Sprintf("%d%s", int64(s/u.size), u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(s)) // unreachable: B divides everything
}

// MarshalYAML writes the size as the string a person would type.
func (s Size) MarshalYAML() (any, error) {
	return s.String(), nil
}

// setYAML takes a decoded YAML value: an integer is bytes, a string is
// parsed by ParseSize.
func (s *Size) setYAML(v any) error {
	switch v := v.(type) {
	case string:
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		*s = n
		return nil
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Errorf("invalid size %d: too large", v)
		}
		*s = Size(v)
		return nil
	case int64:
		if v < 0 {
			return fmt.Errorf("invalid size %d: negative", v)
		}
		*s = Size(v)
		return nil
	case int:
		return s.setYAML(int64(v))
	}
	return fmt.Errorf("must be a size like \"50MB\", got %s", describe(v))
}
