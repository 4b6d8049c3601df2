package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second},
		{"2m", 2 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{"250ms", 250 * time.Millisecond},
		{"0", 0},
		{"0s", 0},
		{"-1s", -time.Second}, // parses; Validate refuses it where it matters
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	for _, in := range []string{"", "30", "2 minutes", "1d", "s", "30 s"} {
		_, err := ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
			continue
		}
		if want := "invalid duration " + `"` + in + `"`; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to contain %q", err, want)
		}
	}
}

func TestDurationString(t *testing.T) {
	for _, d := range []Duration{0, Duration(2 * time.Minute), Duration(1500 * time.Millisecond), Duration(30 * time.Second)} {
		if got, want := d.String(), time.Duration(d).String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", d.String(), back, err, d)
		}
	}
}

func TestDurationFromYAMLNumber(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		want    Duration
		wantErr string
	}{
		{"zero", uint64(0), 0, ""},
		{"seconds-looking number", uint64(30), 0, `invalid duration 30: missing unit, write e.g. "30s"`},
		{"negative", int64(-1), 0, "missing unit"},
		{"float", 1.5, 0, "must be a duration"},
		{"list", []any{}, 0, "must be a duration like \"30s\", got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Duration(time.Hour)
			err := d.setYAML(tt.value)
			if tt.wantErr == "" {
				if err != nil || d != tt.want {
					t.Errorf("setYAML(%v) = %v, %v; want %v", tt.value, d, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("setYAML(%v) err = %v, want %q", tt.value, err, tt.wantErr)
			}
		})
	}
}
