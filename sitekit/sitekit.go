// Package sitekit writes the template helpers that let a static site
// render spano's uploads from their records: for Jekyll the include
// _includes/spano/picture.html, for Hugo the partial
// layouts/partials/spano/picture.html and the shortcode
// layouts/shortcodes/spano.html. Given an upload's published URL they find
// its record under the site's data folder (spano/<shards>/<64 hex>.json)
// and render <picture> with srcset, sizes, width and height, or <video>
// and <audio>; a URL with no record falls back to a plain element.
//
// The helpers are generated for one media layout (shard depth and width),
// so they run without plugins on GitHub Pages' Jekyll and with Hugo's
// static/ folder, where neither generator can process the images itself.
//
// Every file written starts with a header holding the SHA-256 of the rest
// of the file. A later Write replaces a file whose body still matches its
// header (the owner has not touched it) and leaves alone, and reports, one
// the owner changed, unless Options.Force is set.
package sitekit

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"spano/internal/atomicfile"
	"strings"
	"text/template"
)

// Generators the kit is written for.
const (
	Jekyll = "jekyll"
	Hugo   = "hugo"
)

// DefaultSizes is the sizes attribute used when a page gives none: full
// width on narrow screens, an 800 px column otherwise.
const DefaultSizes = "(max-width: 800px) 100vw, 800px"

// Version is the kit's format version, written in every file's header so
// that an owner can tell which spano wrote it.
const Version = 1

//go:embed templates
var templates embed.FS

// Options says which kit to write and for which layout.
type Options struct {
	Generator string // Jekyll or Hugo
	Depth     int    // shard folders, as media.depth
	Width     int    // hex characters per shard folder, as media.width
	Sizes     string // default sizes attribute; "" is DefaultSizes
	Force     bool   // overwrite files the owner changed
}

// Action is what Write did with one file.
type Action string

// The actions Write reports.
const (
	Created     Action = "created"     // the file did not exist
	Updated     Action = "updated"     // an unchanged earlier kit file was replaced
	Unchanged   Action = "unchanged"   // the file already held exactly this kit
	Kept        Action = "kept"        // the owner changed the file; left alone
	Overwritten Action = "overwritten" // the owner changed the file; replaced (Force)
)

// Result is one file of the kit and what Write did with it.
type Result struct {
	Path   string // slash-separated, relative to the site's folder
	Action Action
}

// ErrChanged is returned by Write, wrapped, when at least one file was
// Kept because its owner changed it.
var ErrChanged = errors.New("changed by the site's owner")

// file is one template of a kit and where it goes in the site.
type file struct {
	template string // under templates/
	dest     string // slash-separated, relative to the site
	comment  func(line string) string
}

func liquidComment(line string) string { return "{%- comment -%} " + line + " {%- endcomment -%}" }
func goComment(line string) string     { return "{{- /* " + line + " */ -}}" }

// Files lists, for a generator, the paths Write writes, relative to the
// site's folder.
func Files(generator string) ([]string, error) {
	fs, err := kitFiles(generator)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(fs))
	for i, f := range fs {
		paths[i] = f.dest
	}
	return paths, nil
}

func kitFiles(generator string) ([]file, error) {
	switch generator {
	case Jekyll:
		return []file{
			{"jekyll/picture.html", "_includes/spano/picture.html", liquidComment},
		}, nil
	case Hugo:
		return []file{
			{"hugo/picture.html", "layouts/partials/spano/picture.html", goComment},
			{"hugo/shortcode.html", "layouts/shortcodes/spano.html", goComment},
		}, nil
	}
	return nil, fmt.Errorf("generator %q: must be %s or %s", generator, Jekyll, Hugo)
}

// shard is one level of the record's folder: hash[Start:Start+Len].
type shard struct{ Start, Len int }

// params are what the templates are generated with.
type params struct {
	Sizes  string
	Shards []shard
}

func (o Options) params() (params, error) {
	if o.Depth < 0 || o.Width < 1 || o.Depth*o.Width > 64 {
		return params{}, fmt.Errorf("layout depth %d width %d: need depth ≥ 0, width ≥ 1, depth × width ≤ 64", o.Depth, o.Width)
	}
	sizes := o.Sizes
	if sizes == "" {
		sizes = DefaultSizes
	}
	if strings.ContainsAny(sizes, "\"'<>{}%\\\n\r") {
		return params{}, fmt.Errorf("sizes %q: must not hold quotes, braces, angle brackets, %%, \\ or newlines", sizes)
	}
	p := params{Sizes: sizes}
	for i := range o.Depth {
		p.Shards = append(p.Shards, shard{Start: i * o.Width, Len: o.Width})
	}
	return p, nil
}

// Render returns the kit's files for opts, keyed by their path relative
// to the site, without writing anything.
func Render(opts Options) (map[string][]byte, error) {
	files, err := kitFiles(opts.Generator)
	if err != nil {
		return nil, err
	}
	p, err := opts.params()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		src, err := templates.ReadFile("templates/" + f.template)
		if err != nil {
			return nil, fmt.Errorf("read template %s: %w", f.template, err)
		}
		t, err := template.New(f.template).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", f.template, err)
		}
		var body bytes.Buffer
		if err := t.Execute(&body, p); err != nil {
			return nil, fmt.Errorf("execute template %s: %w", f.template, err)
		}
		out[f.dest] = withHeader(f.comment, body.Bytes())
	}
	return out, nil
}

// headerPrefix starts the first line of every kit file, inside the
// generator's comment syntax.
const headerPrefix = "spano kit "

// withHeader puts the header line, holding the hash of body, before body.
func withHeader(comment func(string) string, body []byte) []byte {
	sum := sha256.Sum256(body)
	line := comment(fmt.Sprintf("%s%d sha256:%s — written by `spano kit`; if you edit this file, spano kit leaves it alone unless run with -force",
		headerPrefix, Version, hex.EncodeToString(sum[:])))
	return append([]byte(line+"\n"), body...)
}

// pristine reports whether content is a kit file whose body still hashes
// to the sum in its header: one the owner has not edited.
func pristine(content []byte) bool {
	line, body, ok := bytes.Cut(content, []byte("\n"))
	if !ok {
		return false
	}
	_, rest, ok := bytes.Cut(line, []byte(headerPrefix))
	if !ok {
		return false
	}
	_, rest, ok = bytes.Cut(rest, []byte(" sha256:"))
	if !ok || len(rest) < 64 {
		return false
	}
	sum := sha256.Sum256(body)
	return string(rest[:64]) == hex.EncodeToString(sum[:])
}

// Write writes the kit into the site folder dir, creating folders as
// needed, each file atomically. It returns what it did with every file;
// if it kept any because the owner changed it, the error wraps ErrChanged
// and names them, and every other file is still written.
func Write(dir string, opts Options) ([]Result, error) {
	if info, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("site folder: %w", err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("site folder %s: not a directory", dir)
	}
	rendered, err := Render(opts)
	if err != nil {
		return nil, err
	}
	paths, _ := Files(opts.Generator)
	var results []Result
	var kept []string
	for _, rel := range paths {
		action, err := writeOne(filepath.Join(dir, filepath.FromSlash(rel)), rendered[rel], opts.Force)
		if err != nil {
			return results, fmt.Errorf("write %s: %w", rel, err)
		}
		results = append(results, Result{Path: rel, Action: action})
		if action == Kept {
			kept = append(kept, rel)
		}
	}
	if len(kept) > 0 {
		return results, fmt.Errorf("kept %s: %w (run with -force to replace)", strings.Join(kept, ", "), ErrChanged)
	}
	return results, nil
}

// writeOne puts content at path unless the file there was changed by its
// owner and force is false.
func writeOne(path string, content []byte, force bool) (Action, error) {
	old, err := os.ReadFile(path)
	action := Created
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case bytes.Equal(old, content):
		return Unchanged, nil
	case pristine(old):
		action = Updated
	case !force:
		return Kept, nil
	default:
		action = Overwritten
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return action, atomicfile.Write(path, content, 0o644)
}
