package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"spano/hooks"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// ErrUnknownKey is the cause of a FieldError for a key the config does not
// have, usually a typo that would otherwise be silently ignored.
var ErrUnknownKey = errors.New("unknown key")

// FieldError is a problem with one key of the config. Key is the key's path
// as written in the file: "repo.push", "hooks[1].timeout".
type FieldError struct {
	Key string
	Err error
}

// Error reads "media.max_size: invalid size \"50XB\": …".
func (e *FieldError) Error() string {
	key := e.Key
	if key == "" {
		key = "top level"
	}
	return key + ": " + e.Err.Error()
}

// Unwrap gives the cause, so errors.Is(err, ErrUnknownKey) works.
func (e *FieldError) Unwrap() error { return e.Err }

// Load reads the config file at path and parses it with Parse. Errors name
// the file and, for bad keys, the key.
func Load(path string, getenv func(string) string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	c, err := Parse(data, getenv)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a YAML config: Default, then the file's keys over it, then the
// defaults that depend on other keys (repo.path from data_dir, media.dir
// from site.generator, hook timeouts), then Validate.
//
// ${VAR} in a string value is replaced by getenv("VAR") (empty when unset);
// $$ is a literal $. A key with no value (null) keeps its default, while an
// empty list ([]) is an empty list: `thumbnails.widths: []` turns
// thumbnails off. Every problem with a key is a *FieldError naming it, all
// of them joined with errors.Join; a YAML syntax error, a duplicate key or a
// second document is reported with goccy's line and column instead.
func Parse(data []byte, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	tree, err := parseYAML(data)
	if err != nil {
		return Config{}, err
	}
	c := Default()
	d := decoder{getenv: getenv, set: map[string]bool{}}
	d.value("", tree, reflect.ValueOf(&c).Elem())
	if len(d.errs) > 0 {
		return Config{}, errors.Join(d.errs...)
	}
	c.derive(d.set)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseYAML decodes the single document into maps (kept in file order, so
// errors come in file order), lists and scalars. goccy resolves anchors,
// aliases and merge keys and refuses duplicate keys here.
func parseYAML(data []byte) (any, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if len(f.Docs) > 1 {
		return nil, fmt.Errorf("parse yaml: %d documents, want one", len(f.Docs))
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, nil
	}
	var v any
	if err := yaml.NodeToValue(f.Docs[0].Body, &v, yaml.UseOrderedMap()); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	return v, nil
}

// derive fills the defaults that depend on other keys, unless the file set
// them itself.
func (c *Config) derive(set map[string]bool) {
	if !set["repo.path"] {
		c.Repo.Path = defaultRepoPath(c.DataDir)
	}
	if !set["media.dir"] {
		c.Media.Dir = defaultMediaDir(c.Site.Generator)
	}
	if !set["site.data_dir"] {
		c.Site.DataDir = DefaultDataDir(c.Site.Generator)
	}
	for i := range c.Hooks {
		if !set[fmt.Sprintf("hooks[%d].timeout", i)] {
			c.Hooks[i].Timeout = Duration(hooks.DefaultTimeout(c.Hooks[i].Events))
		}
	}
	c.Storage.S3.PublicURL = strings.TrimRight(c.Storage.S3.PublicURL, "/")
	// URLs are joined with paths that start with "/".
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.Site.URL = strings.TrimRight(c.Site.URL, "/")
	for i := range c.Auth.Tokens {
		c.Auth.Tokens[i].SHA256 = strings.ToLower(c.Auth.Tokens[i].SHA256)
	}
}

// yamlSetter is implemented by types that read themselves from a decoded
// YAML value (after ${VAR} expansion).
type yamlSetter interface {
	setYAML(v any) error
}

// decoder copies a decoded YAML tree onto a Config by the yaml tags,
// collecting an error for each bad key instead of stopping at the first,
// and remembering which keys the file set.
type decoder struct {
	getenv func(string) string
	set    map[string]bool
	errs   []error
}

func (d *decoder) fail(key string, err error) {
	d.errs = append(d.errs, &FieldError{Key: key, Err: err})
}

func (d *decoder) failf(key, format string, args ...any) {
	d.fail(key, fmt.Errorf(format, args...))
}

// value decodes in onto out. A null keeps out as it is.
func (d *decoder) value(key string, in any, out reflect.Value) {
	if in == nil {
		return
	}
	if s, ok := in.(string); ok {
		expanded, err := expand(s, d.getenv)
		if err != nil {
			d.fail(key, err)
			return
		}
		in = expanded
	}
	if setter, ok := out.Addr().Interface().(yamlSetter); ok {
		if err := setter.setYAML(in); err != nil {
			d.fail(key, err)
		}
		return
	}
	switch out.Kind() {
	case reflect.Struct:
		d.mapping(key, in, out)
	case reflect.Slice:
		d.list(key, in, out)
	case reflect.String:
		s, ok := in.(string)
		if !ok {
			// Not converted: goccy has already turned 0123 or 1e3 into a
			// number, and a silently altered password is worse than an error.
			d.failf(key, "must be a string, got %s (quote the value)", kind(in))
			return
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			d.failf(key, "must be true or false, got %s", describe(in))
			return
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := toInt64(in)
		if !ok || out.OverflowInt(n) {
			d.failf(key, "must be an integer, got %s", describe(in))
			return
		}
		out.SetInt(n)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", out.Type(), key))
	}
}

// mapping decodes a YAML mapping onto a struct, refusing keys it lacks.
func (d *decoder) mapping(key string, in any, out reflect.Value) {
	m, ok := in.(yaml.MapSlice)
	if !ok {
		d.failf(key, "must be a mapping, got %s", describe(in))
		return
	}
	for _, item := range m {
		name := fmt.Sprint(item.Key)
		sub := name
		if key != "" {
			sub = key + "." + name
		}
		i, ok := fieldIndex(out.Type(), name)
		if !ok {
			if near := nearKey(out.Type(), name); near != "" {
				d.fail(sub, fmt.Errorf("%w (did you mean %s?)", ErrUnknownKey, near))
			} else {
				d.fail(sub, ErrUnknownKey)
			}
			continue
		}
		if item.Value != nil {
			d.set[sub] = true
		}
		d.value(sub, item.Value, out.Field(i))
	}
}

// list decodes a YAML sequence, replacing the default list rather than
// appending to it.
func (d *decoder) list(key string, in any, out reflect.Value) {
	l, ok := in.([]any)
	if !ok {
		d.failf(key, "must be a list, got %s", describe(in))
		return
	}
	s := reflect.MakeSlice(out.Type(), len(l), len(l))
	for i, e := range l {
		sub := fmt.Sprintf("%s[%d]", key, i)
		if e == nil {
			d.failf(sub, "must not be null")
			continue
		}
		d.value(sub, e, s.Index(i))
	}
	out.Set(s)
}

// fieldIndex finds the struct field whose yaml tag is name.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// nearKey suggests the intended key for a mistyped one: "maxSize",
// "max-size" or "Max_Size" for "max_size", "event" for "events".
func nearKey(t reflect.Type, name string) string {
	norm := func(s string) string {
		s = strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
		return strings.TrimSuffix(s, "s")
	}
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); norm(n) == norm(name) {
			return n
		}
	}
	return ""
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case uint64:
		if v <= 1<<63-1 {
			return int64(v), true
		}
	}
	return 0, false
}

// describe shows a decoded value in an error: strings quoted, numbers and
// booleans as written, collections by kind.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v)
	}
	return kind(v)
}

// kind names a decoded value's type without showing it, for keys whose
// value may be a secret.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case yaml.MapSlice:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}
