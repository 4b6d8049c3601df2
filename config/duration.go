package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in Go's syntax ("30s", "2m", "1h30m").
// Convert with time.Duration(d).
type Duration time.Duration

// ParseDuration reads a duration in Go's syntax. A bare "0" is allowed, as
// in time.ParseDuration; any other number needs a unit.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use Go syntax like \"30s\" or \"2m\"", s)
	}
	return Duration(d), nil
}

// String formats like time.Duration ("2m0s"), which ParseDuration reads back.
func (d Duration) String() string {
	return time.Duration(d).String()
}

// MarshalYAML writes the duration as a string; a bare integer would be
// nanoseconds to Go but a number of seconds to most readers.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// setYAML takes a decoded YAML value. Integers other than 0 are refused
// rather than guessed at: "30" could mean seconds or nanoseconds.
func (d *Duration) setYAML(v any) error {
	switch v := v.(type) {
	case string:
		n, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*d = n
		return nil
	case uint64, int64, int:
		if fmt.Sprint(v) == "0" {
			*d = 0
			return nil
		}
		return fmt.Errorf("invalid duration %v: missing unit, write e.g. \"%vs\"", v, v)
	}
	return fmt.Errorf("must be a duration like \"30s\", got %s", describe(v))
}
