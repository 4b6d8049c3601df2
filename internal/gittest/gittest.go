// Package gittest runs the git CLI for tests: to build the site
// repositories spano works on, to commit and push as another writer
// would, and to check what spano wrote against git's own view of it.
package gittest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Run runs git in dir as "Someone Else", the other writer of a site
// repository, with no system or user config, and returns its combined
// output. It is safe to call from goroutines that must not call t.Fatal.
func Run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=Someone Else", "-c", "user.email=else@example.invalid",
		"-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false",
	}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Git is Run that fails the test on error and trims the output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Run(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// NewRemote makes a bare repository whose main branch holds files (path →
// content; an index.md when empty) in one commit, as a site repository
// looks before spano's first upload, and returns its path.
func NewRemote(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "site.git")
	Git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	work := filepath.Join(dir, "seed")
	Git(t, dir, "clone", "-q", bare, work)
	if len(files) == 0 {
		files = map[string]string{"index.md": "# my site\n"}
	}
	for p, content := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", "Start the site")
	Git(t, work, "push", "-q", "origin", "HEAD:main")
	return bare
}

// Fsck fails the test unless git fsck --strict finds the repository at
// dir sound.
func Fsck(t testing.TB, dir string) {
	t.Helper()
	if out, err := Run(dir, "fsck", "--strict", "--no-dangling", "--no-progress"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("git fsck --strict %s: %v\n%s", dir, err, out)
	}
}

// RefuseBlobsOver installs on the bare remote a pre-receive hook that
// refuses a push carrying a blob over limit bytes, with GitHub's words
// for files over 100 MB ("GH001: Large files detected"), and counts its
// runs in a file of the test's. It returns a function reading that count.
func RefuseBlobsOver(t testing.TB, remote string, limit int) (runs func() int) {
	t.Helper()
	count := filepath.Join(t.TempDir(), "runs")
	hook := fmt.Sprintf(`#!/bin/sh
echo run >> %q
while read old new ref; do
	big=$(git rev-list --objects "$new" --not --all | cut -d' ' -f1 |
		git cat-file --batch-check='%%(objecttype) %%(objectsize) %%(objectname)' |
		awk -v limit=%d '$1 == "blob" && $2 > limit { print $3; exit }')
	if [ -n "$big" ]; then
		echo "error: File $big is over %d bytes; this exceeds the file size limit" >&2
		echo "error: GH001: Large files detected." >&2
		exit 1
	fi
done
`, count, limit, limit)
	if err := os.WriteFile(filepath.Join(remote, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	return func() int {
		b, err := os.ReadFile(count)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return strings.Count(string(b), "run\n")
	}
}
