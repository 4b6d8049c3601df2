package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spano/internal/gittest"
	"spano/record"
	"spano/repo"
)

// setRecords turns site.records on or off in the test site's config.
func setRecords(t *testing.T, site testSite, on bool) {
	t.Helper()
	b, err := os.ReadFile(site.config)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "\n  records: false", "")
	s = strings.ReplaceAll(s, "\n  records: true", "")
	v := "false"
	if on {
		v = "true"
	}
	s = strings.Replace(s, "site:\n", "site:\n  records: "+v+"\n", 1)
	if err := os.WriteFile(site.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRecordsCommand: uploads made with records off get their records
// from `spano records`, in one commit; a second run commits nothing.
func TestRecordsCommand(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	setRecords(t, site, false)
	s := start(t, "serve", "-config", site.config, "-listen", "127.0.0.1:0")
	endpoint := "http://" + s.addr + "/micropub/media"
	photo := writePNG(t, site.dir, "photo.png", 700, 500, 1)
	small := writePNG(t, site.dir, "small.png", 16, 16, 2)
	out, errOut, err := spano(t, "upload", "-config", site.config, "-endpoint", endpoint, "-token", site.token, photo, small)
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	urls := strings.Fields(out)
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	gitDir := filepath.Join(site.dir, "data", "site.git")
	commits := func() int {
		var n int
		for range strings.Split(gittest.Git(t, gitDir, "rev-list", "main"), "\n") {
			n++
		}
		return n
	}
	before := commits()
	oldHead := gittest.Git(t, gitDir, "rev-parse", "main")
	if files := gittest.Git(t, gitDir, "ls-tree", "-r", "--name-only", "main"); strings.Contains(files, "_data/spano/") {
		t.Fatalf("records written with records off:\n%s", files)
	}

	if _, _, err := spano(t, "records", "-config", site.config); err == nil || !strings.Contains(err.Error(), "site.records is off") {
		t.Errorf("records with site.records off: err = %v", err)
	}
	setRecords(t, site, true)
	out, errOut, err = spano(t, "records", "-config", site.config)
	if err != nil {
		t.Fatalf("records: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "added records for 2 earlier uploads in commit ") {
		t.Errorf("records said %q", out)
	}
	if got := commits(); got != before+1 {
		t.Errorf("%d commits after records, want %d (one more)", got, before+1)
	}
	if got := gittest.Git(t, gitDir, "log", "-1", "--format=%s", "main"); got != "Add records for 2 earlier uploads" {
		t.Errorf("subject = %q", got)
	}
	// The history before it is untouched: its parent is the old head.
	if got := gittest.Git(t, gitDir, "rev-parse", "main~1"); got != oldHead {
		t.Errorf("parent of the records' commit = %s, want the old head %s", got, oldHead)
	}

	r, err := repo.Open(context.Background(), repo.Options{Path: gitDir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for i, u := range urls {
		rel := strings.TrimPrefix(u, "https://example.com/")
		sha := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
		path := "_data/spano/" + sha[:2] + "/" + sha[2:4] + "/" + sha + ".json"
		b := gittest.Git(t, gitDir, "show", "main:"+path)
		rec, err := record.Parse([]byte(b))
		if err != nil {
			t.Fatalf("record %s: %v\n%s", path, err, b)
		}
		st, err := r.Stat(context.Background(), rel)
		if err != nil {
			t.Fatal(err)
		}
		wantW := []int{700, 16}[i]
		if rec.URL != u || rec.SHA256 != sha || rec.Size != st.Size || rec.Width != wantW || rec.Type != "image/png" || rec.Storage != "repo" || rec.Published.IsZero() {
			t.Errorf("record of %s = %+v", u, rec)
		}
		if i == 0 && len(rec.Variants) == 0 {
			t.Errorf("record of the photo lists no thumbnails: %+v", rec)
		}
	}

	out, errOut, err = spano(t, "records", "-config", site.config)
	if err != nil || !strings.Contains(out, "nothing to commit") {
		t.Errorf("second run: %q, %v\n%s", out, err, errOut)
	}
	if got := commits(); got != before+1 {
		t.Errorf("the second run made a commit (%d, want %d)", got, before+1)
	}
}
