package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
	}{
		{"50MB", 50_000_000},
		{"50 MB", 50_000_000},
		{" 7 KB ", 7000},
		{"1.5GB", 1_500_000_000},
		{"512KiB", 512 * 1024},
		{"2GiB", 2 << 30},
		{"3MiB", 3 << 20},
		{"100", 100},
		{"100B", 100},
		{"100 B", 100},
		{"0", 0},
		{"50mb", 50_000_000},
		{"1kib", 1024},
		{"0.5KiB", 512},
		{"0.3KiB", 307}, // 307.2: the fraction of a byte is dropped
		{"1.000000001GB", 1_000_000_001},
		{"9223372036854775807", math.MaxInt64},
		{"8GiB", 8 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, int64(got), int64(tt.want))
			}
		})
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string
	}{
		{"", `invalid size ""`},
		{"MB", `invalid size "MB"`},
		{"50XB", `invalid size "50XB": unknown unit "XB"`},
		{"50 M B", `unknown unit "M B"`},
		{"50MBs", `unknown unit "MBs"`},
		{"50M", `unknown unit "M"`},
		{"-5MB", `invalid size "-5MB"`},
		{"+5MB", `invalid size "+5MB"`},
		{"1.2.3MB", `invalid size "1.2.3MB"`},
		{".5MB", `invalid size ".5MB"`},
		{"5.MB", `invalid size "5.MB"`},
		{"1e3", `unknown unit "e3"`},
		{"5,000", `unknown unit ",000"`},
		{"9223372036854775808", "too large"},
		{"10000000000GB", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error", tt.in, int64(got))
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1500, "1500B"},
		{50 * MB, "50MB"},
		{512 * KiB, "512KiB"},
		{2 * GiB, "2GiB"},
		{1_500_000_000, "1500MB"},
		{-KB, "-1KB"},
		{math.MinInt64, "-9223372036854775808B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestSizeStringRoundTrips(t *testing.T) {
	// A spread of values with and without round decimal or binary factors.
	for s := Size(1); s > 0 && s < math.MaxInt64/7; s = s*7 + 3 {
		for _, v := range []Size{s, s * 1000, s * 1024, s * 1_000_000} {
			if v <= 0 {
				continue
			}
			got, err := ParseSize(v.String())
			if err != nil || got != v {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", v.String(), int64(got), err, int64(v))
			}
		}
	}
}
