package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

// minimal is the smallest valid file: the keys without a default.
const minimal = `
base_url: https://media.example.com
site: {url: https://example.com}
auth: {me: https://example.com/}
`

// complete appends the required keys a test document does not set itself,
// so each test shows only what it is about.
func complete(doc string) string {
	for _, req := range []struct{ key, line string }{
		{"base_url:", "base_url: https://media.example.com\n"},
		{"site:", "site: {url: https://example.com}\n"},
		{"auth:", "auth: {me: https://example.com/}\n"},
	} {
		if !strings.HasPrefix(doc, req.key) && !strings.Contains(doc, "\n"+req.key) {
			doc += req.line
		}
	}
	return doc
}

// env is a getenv backed by a map, so tests never touch the process
// environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fieldErrors flattens a (possibly joined, possibly wrapped) error into its
// FieldErrors, in order.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		var fe *FieldError
		if errors.As(err, &fe) && err == error(fe) {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func errorKeys(err error) []string {
	var keys []string
	for _, fe := range fieldErrors(err) {
		keys = append(keys, fe.Key)
	}
	return keys
}

func mustParse(t *testing.T, doc string, getenv func(string) string) Config {
	t.Helper()
	c, err := Parse([]byte(doc), getenv)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return c
}

func TestParseMinimalGivesDefaults(t *testing.T) {
	got := mustParse(t, minimal, nil)
	want := Default()
	want.BaseURL = "https://media.example.com"
	want.Site.URL = "https://example.com"
	want.Auth.Me = "https://example.com/"
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Parse(minimal) (-got +want):\n%s", diff)
	}
}

func TestParseEmptyFileNamesRequiredKeys(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "---\n"} {
		_, err := Parse([]byte(doc), nil)
		if diff := cmp.Diff(errorKeys(err), []string{"base_url", "site.url", "auth.me"}); diff != "" {
			t.Errorf("Parse(%q) keys (-got +want):\n%s\nerr: %v", doc, diff, err)
		}
	}
}

func TestParseExpandsEnvironment(t *testing.T) {
	doc := complete(`
repo:
  remote: https://git.example.com/${OWNER}/site.git
  username: ${GIT_USER}
  password: ${SPANO_GIT_TOKEN}
  author_name: "price $$5 and $HOME"
media:
  max_size: ${MAX_SIZE}
auth:
  me: https://example.com/
  introspection_bearer: "${UNSET_VAR}"
hooks:
  - name: rebuild
    events: [pushed]
    url: ${HOOK_URL}
    secret: ${SPANO_HOOK_SECRET}
`)
	c := mustParse(t, doc, env(map[string]string{
		"OWNER":             "alice",
		"GIT_USER":          "bot",
		"SPANO_GIT_TOKEN":   "s3cr3t: [not yaml] ${NOT_EXPANDED}",
		"MAX_SIZE":          "10MiB",
		"HOOK_URL":          "https://ci.example.com/hook",
		"SPANO_HOOK_SECRET": "hmac",
	}))
	for _, tc := range []struct {
		name, got, want string
	}{
		{"remote", c.Repo.Remote, "https://git.example.com/alice/site.git"},
		{"username", c.Repo.Username, "bot"},
		// The value is used as is: not re-expanded, not parsed as YAML.
		{"password", c.Repo.Password, "s3cr3t: [not yaml] ${NOT_EXPANDED}"},
		{"escape and bare $", c.Repo.AuthorName, "price $5 and $HOME"},
		{"unset is empty", c.Auth.IntrospectionBearer, ""},
		{"hook url", c.Hooks[0].URL, "https://ci.example.com/hook"},
		{"hook secret", c.Hooks[0].Secret, "hmac"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if got, want := c.Media.MaxSize, 10*MiB; got != want {
		t.Errorf("max_size = %v, want %v", got, want)
	}
}

func TestParseBadEnvReferenceNamesKey(t *testing.T) {
	_, err := Parse([]byte(complete("repo: {password: \"${SPANO_GIT_TOKEN\"}\n")), env(map[string]string{"SPANO_GIT_TOKEN": "hunter2"}))
	if got, want := errorKeys(err), []string{"repo.password"}; !cmp.Equal(got, want) {
		t.Fatalf("keys = %v, want %v (err %v)", got, want, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the variable's value: %v", err)
	}
}

func TestParseDerivedDefaults(t *testing.T) {
	tests := []struct {
		name         string
		doc          string
		wantMediaDir string
		wantRepoPath string
	}{
		{"jekyll", "", "media", "./spano-data/site.git"},
		{"hugo", "site: {url: https://example.com, generator: hugo}\n", "static/media", "./spano-data/site.git"},
		{"hugo explicit dir", "site: {url: https://example.com, generator: hugo}\nmedia: {dir: assets/media}\n", "assets/media", "./spano-data/site.git"},
		{"jekyll explicit dir", "media: {dir: uploads}\n", "uploads", "./spano-data/site.git"},
		{"null dir keeps derived default", "site: {url: https://example.com, generator: hugo}\nmedia: {dir: }\n", "static/media", "./spano-data/site.git"},
		{"data_dir moves repo", "data_dir: /var/lib/spano/\n", "media", "/var/lib/spano/site.git"},
		{"explicit repo path", "data_dir: /var/lib/spano\nrepo: {path: /srv/site.git}\n", "media", "/srv/site.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, complete(tt.doc), nil)
			if got, want := c.Media.Dir, tt.wantMediaDir; got != want {
				t.Errorf("media.dir = %q, want %q", got, want)
			}
			if got, want := c.Repo.Path, tt.wantRepoPath; got != want {
				t.Errorf("repo.path = %q, want %q", got, want)
			}
		})
	}
}

func TestParseThumbnailWidths(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []int
	}{
		{"unset keeps default", "thumbnails: {quality: 90}\n", []int{320, 640, 1280}},
		{"null keeps default", "thumbnails: {widths: }\n", []int{320, 640, 1280}},
		{"explicit empty means none", "thumbnails: {widths: []}\n", []int{}},
		{"replaces, not appends", "thumbnails: {widths: [100]}\n", []int{100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, complete(tt.doc), nil)
			if diff := cmp.Diff(c.Thumbnails.Widths, tt.want); diff != "" {
				t.Errorf("widths (-got +want):\n%s", diff)
			}
			if c.Thumbnails.Widths == nil {
				t.Error("widths is nil; want a non-nil slice so callers need not tell nil from empty")
			}
		})
	}
}

func TestParsePushMode(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    PushMode
		wantErr string
	}{
		{"sync", "sync", PushSync, ""},
		{"async", "async", PushAsync, ""},
		{"unquoted off", "off", PushOff, ""},
		{"quoted off", `"off"`, PushOff, ""},
		{"boolean false", "false", PushOff, ""},
		{"boolean true", "true", "", "repo.push: must be sync, async or off, got true"},
		{"unknown", "sometimes", "", `repo.push: must be sync, async or off, got "sometimes"`},
		{"number", "1", "", "repo.push: must be sync, async or off, got 1"},
		{"case matters", "Sync", "", `repo.push: must be sync, async or off, got "Sync"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(complete("repo:\n  push: "+tt.value+"\n")), nil)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Repo.Push; got != tt.want {
				t.Errorf("push = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseHookTimeoutDefaults(t *testing.T) {
	c := mustParse(t, complete(`
hooks:
  - name: scan
    events: [upload, stored]
    command: [clamdscan, "-"]
  - name: rebuild
    events: [pushed]
    url: https://ci.example.com/hook
  - name: slow
    events: [deleted]
    command: [./notify]
    timeout: 1m
`), nil)
	var got []time.Duration
	for _, h := range c.Hooks {
		got = append(got, time.Duration(h.Timeout))
	}
	if diff := cmp.Diff(got, []time.Duration{30 * time.Second, 10 * time.Second, time.Minute}); diff != "" {
		t.Errorf("timeouts (-got +want):\n%s", diff)
	}
}

func TestParseNormalizes(t *testing.T) {
	c := mustParse(t, `
base_url: https://media.example.com/
site: {url: https://example.com/blog/}
auth:
  me: https://example.com/
  tokens: [{sha256: CCA8451B0FB7EB45E2E38ABE96158CC82DA7083EFA115A61939AFB60EBF55EF8, scope: media}]
`, nil)
	if got, want := c.BaseURL, "https://media.example.com"; got != want {
		t.Errorf("base_url = %q, want %q", got, want)
	}
	if got, want := c.Site.URL, "https://example.com/blog"; got != want {
		t.Errorf("site.url = %q, want %q", got, want)
	}
	if got, want := c.Auth.Tokens[0].SHA256, "cca8451b0fb7eb45e2e38abe96158cc82da7083efa115a61939afb60ebf55ef8"; got != want {
		t.Errorf("sha256 = %q, want %q", got, want)
	}
}

func TestParseDecodeErrorsNameKey(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		wantKeys []string
		wantMsg  string // substring of the whole error
	}{
		{"unknown top-level", "listn: 1.2.3.4:80\n", []string{"listn"}, "listn: unknown key"},
		{"unknown in section", "media:\n  max_sizes: 5MB\n", []string{"media.max_sizes"}, "media.max_sizes: unknown key"},
		{"suggests the key", "media:\n  maxSize: 5MB\n", []string{"media.maxSize"}, "unknown key (did you mean max_size?)"},
		{"unknown in hook", "hooks:\n  - name: a\n    events: [upload]\n    command: [x]\n  - name: b\n    event: [pushed]\n", []string{"hooks[1].event"}, "did you mean events?"},
		{"unknown in token", "auth:\n  tokens:\n    - {sha256: x, scopes: media}\n", []string{"auth.tokens[0].scopes"}, "auth.tokens[0].scopes: unknown key"},
		{"unknown under scalar-only section", "log: {format: json, colour: true}\n", []string{"log.colour"}, "unknown key"},
		{"several at once, in file order", "zzz: 1\nrepo: {pushh: sync}\naaa: 2\n", []string{"zzz", "repo.pushh", "aaa"}, ""},
		{"top level not a mapping", "- a\n- b\n", []string{""}, "top level: must be a mapping, got a list"},
		{"section not a mapping", "media: big\n", []string{"media"}, `media: must be a mapping, got "big"`},
		{"list not a list", "media: {types: image/png}\n", []string{"media.types"}, `media.types: must be a list, got "image/png"`},
		{"hooks not a list", "hooks: {name: x}\n", []string{"hooks"}, "hooks: must be a list, got a mapping"},
		{"int from string", "media: {depth: two}\n", []string{"media.depth"}, `media.depth: must be an integer, got "two"`},
		{"int from float", "thumbnails: {quality: 82.5}\n", []string{"thumbnails.quality"}, "must be an integer, got 82.5"},
		{"int overflow", "media: {depth: 99999999999999999999}\n", []string{"media.depth"}, "must be an integer"},
		{"bool from string", "media: {serve: yes}\n", []string{"media.serve"}, `media.serve: must be true or false, got "yes"`},
		{"string from number hides value", "repo: {password: 123456}\n", []string{"repo.password"}, "repo.password: must be a string, got a number (quote the value)"},
		{"null list element", "thumbnails: {widths: [320, ~]}\n", []string{"thumbnails.widths[1]"}, "must not be null"},
		{"list element type", "thumbnails: {widths: [320, wide]}\n", []string{"thumbnails.widths[1]"}, `got "wide"`},
		{"bad size", "media: {max_size: 50XB}\n", []string{"media.max_size"}, `media.max_size: invalid size "50XB"`},
		{"size as float", "media: {max_size: 1.5}\n", []string{"media.max_size"}, "must be a size"},
		{"negative size", "media: {max_size: -5}\n", []string{"media.max_size"}, "negative"},
		{"bad duration", "auth: {me: https://example.com/, cache_ttl: 2 minutes}\n", []string{"auth.cache_ttl"}, `auth.cache_ttl: invalid duration "2 minutes"`},
		{"duration without unit", "repo: {push_delay: 30}\n", []string{"repo.push_delay"}, "missing unit"},
		{"hook timeout", "hooks:\n  - {name: a, events: [upload], command: [x], timeout: soon}\n", []string{"hooks[0].timeout"}, `hooks[0].timeout: invalid duration "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(errorKeys(err), tt.wantKeys); diff != "" {
				t.Errorf("keys (-got +want):\n%s\nerr: %v", diff, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseUnknownKeyIsErrUnknownKey(t *testing.T) {
	_, err := Parse([]byte(complete("cors: {origin: ['*']}\n")), nil)
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("errors.Is(%v, ErrUnknownKey) = false", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "cors.origin" {
		t.Errorf("errors.As FieldError = %v, want key cors.origin", fe)
	}
	_, err = Parse([]byte(complete("media: {depth: 9}\n")), nil)
	if errors.Is(err, ErrUnknownKey) {
		t.Errorf("a bad value reads as ErrUnknownKey: %v", err)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"syntax", "media: [1, 2\n", "parse yaml"},
		{"duplicate key", "listen: a:1\nlisten: b:2\n", `"listen" already defined`},
		{"two documents", minimal + "---\nlisten: x:1\n", "2 documents, want one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	c := mustParse(t, complete(`
hooks:
  - &base {name: one, events: [stored], url: "https://ci.example.com/a", timeout: 5s}
  - <<: *base
    name: two
`), nil)
	if got, want := len(c.Hooks), 2; got != want {
		t.Fatalf("hooks = %d, want %d", got, want)
	}
	if got, want := c.Hooks[1].Timeout, Duration(5*time.Second); got != want {
		t.Errorf("merged timeout = %v, want %v", got, want)
	}
}

func TestParseRunsValidate(t *testing.T) {
	_, err := Parse([]byte(complete("media: {depth: 5}\n")), nil)
	if got, want := errorKeys(err), []string{"media.depth"}; !cmp.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(good, []byte(complete("repo: {password: \"${TOKEN}\"}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good, env(map[string]string{"TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Repo.Password, "t"; got != want {
		t.Errorf("password = %q, want %q", got, want)
	}

	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte(complete("media: {width: 0}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad, nil)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "media.width") {
		t.Errorf("err = %v, want the path and media.width", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "media.width" {
		t.Errorf("errors.As FieldError = %v, want media.width", fe)
	}

	missing := filepath.Join(dir, "missing.yml")
	_, err = Load(missing, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v, want ErrNotExist naming the path", err)
	}
}

// TestMarshalRoundTrip checks that Size, Duration and PushMode write what
// they read, so a printed config can be loaded again.
func TestMarshalRoundTrip(t *testing.T) {
	want := mustParse(t, complete(`
repo: {push: async, push_delay: 1m30s}
media: {max_size: 1.5GiB, types: [image/png]}
thumbnails: {widths: []}
auth:
  me: https://example.com/
  cache_ttl: 0s
  tokens: [{sha256: cca8451b0fb7eb45e2e38abe96158cc82da7083efa115a61939afb60ebf55ef8, scope: media}]
hooks: [{name: n, events: [upload], command: [scan, "-"]}]
log: {format: json, level: debug}
`), nil)
	out, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got := mustParse(t, string(out), nil)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("round trip (-got +want):\n%s\nyaml:\n%s", diff, out)
	}
}
