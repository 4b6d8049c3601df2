package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	getenv := env(map[string]string{"A": "va", "B": "vb", "REF": "${A}", "DOLLAR": "$$"})
	tests := []struct {
		name, in, want string
	}{
		{"no dollar", "plain", "plain"},
		{"whole", "${A}", "va"},
		{"inside", "x${A}y", "xvay"},
		{"adjacent", "${A}${B}", "vavb"},
		{"unset is empty", "[${UNSET}]", "[]"},
		{"escape", "$$", "$"},
		{"escaped reference", "$${A}", "${A}"},
		{"three dollars", "$$$", "$$"},
		{"bare dollar kept", "pa$word", "pa$word"},
		{"bare name not expanded", "$A", "$A"},
		{"trailing dollar", "a$", "a$"},
		{"lone dollar", "$", "$"},
		{"closing brace after", "${A}}", "va}"},
		{"values not re-expanded", "${REF}", "${A}"},
		{"values not unescaped", "${DOLLAR}", "$$"},
		{"underscore and digits", "${_A1}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.in, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"unclosed", "x${A", `unclosed "${"`},
		{"empty name", "${}", `invalid variable name ""`},
		{"leading digit", "${1A}", `invalid variable name "1A"`},
		{"default syntax", "${A:-x}", `invalid variable name "A:-x"`},
		{"space", "${ A }", `invalid variable name " A "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.in, env(nil))
			if err == nil {
				t.Fatalf("expand(%q) = %q, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}
