package config

import (
	"os"
	"reflect"
	"slices"
	"spano/hooks"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

const samplePath = "../_config.sample.yml"

var sampleEnv = env(map[string]string{
	"SPANO_GIT_TOKEN":   "git-token",
	"SPANO_HOOK_SECRET": "hook-secret",
})

func readSample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// withHooksExample swaps "hooks: []" for the commented-out example below
// it, so the example is checked like the rest of the file.
func withHooksExample(t *testing.T, sample string) string {
	t.Helper()
	head, tail, ok := strings.Cut(sample, "\nhooks: []\n")
	if !ok {
		t.Fatal(`sample has no "hooks: []" line`)
	}
	lines := strings.Split(strings.TrimRight(tail, "\n"), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "# ") {
			t.Fatalf("line %q after hooks: []: want only the commented example", l)
		}
		lines[i] = strings.TrimPrefix(l, "# ")
	}
	return head + "\n" + strings.Join(lines, "\n") + "\n"
}

// TestSampleShowsDefaults parses the sample and checks that it differs from
// Default only in the values it marks as examples, so its comments and
// values tell the truth about the defaults.
func TestSampleShowsDefaults(t *testing.T) {
	got := mustParse(t, readSample(t), sampleEnv)
	want := Default()
	want.BaseURL = "https://media.example.com"
	want.Site.URL = "https://example.com"
	want.Auth.Me = "https://example.com/"
	want.Repo.Password = "git-token"
	want.Auth.Tokens = []StaticToken{{SHA256: "cca8451b0fb7eb45e2e38abe96158cc82da7083efa115a61939afb60ebf55ef8", Scope: "media delete"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("sample vs defaults (-sample +want):\n%s", diff)
	}
}

func TestSampleHooksExampleParses(t *testing.T) {
	c := mustParse(t, withHooksExample(t, readSample(t)), sampleEnv)
	want := []HookConfig{
		{Name: "scan", Events: []string{hooks.EventUpload}, Command: []string{"sh", "-c", `exec clamdscan --no-summary --fdpass "$SPANO_FILE"`}, Timeout: Duration(hooks.DefaultUploadTimeout)},
		{Name: "rebuild", Events: []string{hooks.EventPushed}, URL: "https://ci.example.com/hooks/spano", Secret: "hook-secret", Timeout: Duration(hooks.DefaultEventTimeout)},
		{Name: "chat", Events: []string{hooks.EventPushed}, Command: []string{"/usr/local/lib/spano/notify-chat"}, Timeout: Duration(hooks.DefaultEventTimeout)},
	}
	if diff := cmp.Diff(c.Hooks, want); diff != "" {
		t.Errorf("hooks example (-got +want):\n%s", diff)
	}
}

// TestSampleHasEveryKey fails when a key is added to Config but not to the
// sample, or the sample documents a key Config does not have.
func TestSampleHasEveryKey(t *testing.T) {
	var tree any
	if err := yaml.UnmarshalWithOptions([]byte(withHooksExample(t, readSample(t))), &tree, yaml.UseOrderedMap()); err != nil {
		t.Fatal(err)
	}
	got := treeKeys("", tree)
	want := typeKeys("", reflect.TypeFor[Config]())
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("sample keys (-sample +Config):\n%s", diff)
	}

	// The same check through the encoder, as a second opinion on typeKeys:
	// every key Default() marshals to must be in the sample.
	out, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	var defaults any
	if err := yaml.UnmarshalWithOptions(out, &defaults, yaml.UseOrderedMap()); err != nil {
		t.Fatal(err)
	}
	for _, k := range treeKeys("", defaults) {
		if !slices.Contains(got, k) {
			t.Errorf("Default() marshals key %q, missing from the sample", k)
		}
	}
}

// treeKeys lists the key paths of a decoded YAML tree, with "[]" for the
// items of a list, sorted.
func treeKeys(prefix string, v any) []string {
	var keys []string
	switch v := v.(type) {
	case yaml.MapSlice:
		for _, item := range v {
			k := prefix + item.Key.(string)
			keys = append(keys, k)
			keys = append(keys, treeKeys(k+".", item.Value)...)
		}
	case []any:
		for _, e := range v {
			keys = append(keys, treeKeys(strings.TrimSuffix(prefix, ".")+"[].", e)...)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// typeKeys lists the key paths Config accepts, in treeKeys' form.
func typeKeys(prefix string, t reflect.Type) []string {
	var keys []string
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			k := prefix + yamlName(t.Field(i))
			keys = append(keys, k)
			keys = append(keys, typeKeys(k+".", t.Field(i).Type)...)
		}
	case reflect.Slice:
		keys = append(keys, typeKeys(strings.TrimSuffix(prefix, ".")+"[].", t.Elem())...)
	}
	slices.Sort(keys)
	return keys
}

// BenchmarkParseSample measures a start-up's config parse of the full sample.
func BenchmarkParseSample(b *testing.B) {
	data, err := os.ReadFile(samplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, sampleEnv); err != nil {
			b.Fatal(err)
		}
	}
}
