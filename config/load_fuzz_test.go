package config

import (
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParse feeds arbitrary bytes to Parse, seeded with the sample config
// and small documents that reach each decoder path. Parse must not panic;
// what it accepts must validate, and must read back the same after being
// written out as YAML, so the defaults and derived keys are stable.
func FuzzParse(f *testing.F) {
	sample, err := os.ReadFile("../_config.sample.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	for _, doc := range []string{
		minimal,
		complete("listen: \"127.0.0.1:0\"\nrepo: {push: off, remote: /srv/site.git, push_delay: 2m}\n"),
		complete("media: {max_size: 1.5GiB, types: [image/png], depth: 0}\nthumbnails: {widths: []}\n"),
		complete("site: {url: https://example.com, generator: hugo}\nmedia: {dir: null}\n"),
		complete("auth: {me: https://example.com/, tokens: [{sha256: " + strings.Repeat("ab", 32) + ", scope: media}]}\n"),
		complete("hooks: [{name: scan, events: [upload], command: [clamdscan, \"${HOME}\"], timeout: 30s}]\n"),
		complete("base: &b {url: https://example.com}\nsite: *b\n"),
		complete("repo: {password: \"${SPANO_GIT_TOKEN}$$\"}\n"),
		"listen: [1, 2]\n", "---\na: 1\n---\nb: 2\n", "a: 1\na: 2\n", "", "null", "\t", "{",
	} {
		f.Add([]byte(doc))
	}
	getenv := func(k string) string {
		return map[string]string{"HOME": "/home/spano", "SPANO_GIT_TOKEN": "t0ken"}[k]
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, getenv)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal an accepted config: %v", err)
		}
		if strings.Contains(string(out), "$") {
			return // written out, a literal $ would be read as ${VAR} again
		}
		again, err := Parse(out, getenv)
		if err != nil {
			t.Fatalf("an accepted config, written out, is refused: %v\n%s", err, out)
		}
		if diff := cmp.Diff(again, c, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("written out and read back (-got +want):\n%s\n%s", diff, out)
		}
	})
}

// FuzzParseSize checks that every size ParseSize accepts is written by
// String in a form ParseSize reads back to the same number of bytes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"50MB", "1.5 GiB", "0", "0.3KiB", "7b", "9223372036854775807", "1e3MB", "-1MB", " 12 kb "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, written %q, read back %d, %v", s, n, n.String(), back, err)
		}
	})
}
