package index

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/hashstore"
	"spano/internal/gittest"
	"spano/record"
	"spano/repo"
)

func testLayout(s *hashstore.Store) record.Layout {
	return record.Layout{Store: s, DataDir: "_data", SiteURL: "https://example.com/media", ObjectURL: "https://bucket.example.com/media"}
}

// seeded is one upload for seedRecords.
type seeded struct {
	m       fakeMedia
	record  bool // commit its record file with it
	s3      bool // offloaded: the record and thumbnails, no original
	deleted bool // a later commit deletes it, record and all
	video   bool // an MP4 with a poster and a duration in its record
}

// rec is the record spano writes for u, published at when.
func (u seeded) rec(l record.Layout, when time.Time) record.Record {
	r := record.Record{Path: u.m.path, SHA256: u.m.sha, Type: "image/jpeg", Size: int64(len(u.m.content)),
		Width: 4000, Height: 3000, Published: when.UTC(), Storage: record.StorageRepo,
		Client: "https://quill.p3k.io/", Filename: "IMG.jpg", Variants: []record.Variant{}}
	if u.video {
		r.Type, r.Duration = "video/mp4", 12.5
		r.Poster = l.URL(u.m.thumbs[0], record.StorageRepo)
	}
	if u.s3 {
		r.Storage = record.StorageS3
	}
	r.URL = l.URL(r.Path, r.Storage)
	for _, p := range u.m.thumbs {
		r.Variants = append(r.Variants, record.Variant{URL: l.URL(p, record.StorageRepo), Path: p, Type: "image/jpeg", Width: 320, Height: 240})
	}
	return r
}

// seedRecords writes a bare repository with one commit per upload, as
// spano with site.records makes them, with git fast-import, one second
// apart from t0; deletes come after all uploads.
func seedRecords(t testing.TB, l record.Layout, ups []seeded, t0 time.Time) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "seed.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	var in strings.Builder
	commit := func(when time.Time, msg repo.Message) {
		text := msg.String()
		fmt.Fprintf(&in, "commit refs/heads/main\nauthor spano <spano@localhost> %d +0000\ncommitter spano <spano@localhost> %d +0000\ndata %d\n%s\n",
			when.Unix(), when.Unix(), len(text), text)
	}
	file := func(p string, b []byte) { fmt.Fprintf(&in, "M 100644 inline %s\ndata %d\n%s\n", p, len(b), b) }
	for i, u := range ups {
		when := t0.Add(time.Duration(i) * time.Second)
		rec := u.rec(l, when)
		commit(when, rec.Message())
		if !u.s3 {
			file(u.m.path, u.m.content)
		}
		for _, p := range u.m.thumbs {
			file(p, []byte("thumb"))
		}
		if u.record {
			file(l.RecordPath(u.m.sha), rec.JSON())
		}
	}
	for i, u := range ups {
		if !u.deleted {
			continue
		}
		rec := u.rec(l, t0)
		commit(t0.Add(time.Duration(len(ups)+i)*time.Second), rec.DeleteMessage())
		for _, p := range append([]string{u.m.path, l.RecordPath(u.m.sha)}, u.m.thumbs...) {
			fmt.Fprintf(&in, "D %s\n", p)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	return bare
}

// loadRecords opens the repository at path and loads an index that reads
// records; the log is returned too.
func loadRecords(t testing.TB, l record.Layout, opts repo.Options) (*Index, *repo.Repo, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	x := New(Options{Store: l.Store, MediaDir: "media", Layout: l,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	opts.Notify = x.Apply
	r := openRepo(t, opts)
	if err := x.Load(context.Background(), r); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return x, r, &logs
}

// TestLoadFromRecords: records and uploads from before records mixed,
// an offloaded upload that is only its record, a video, a deleted
// upload, and a broken record (its original is dated from history).
func TestLoadFromRecords(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	m := func(i int) fakeMedia { return newMedia(s, fmt.Sprintf("photo %d\n", i), "jpg", 320, 640) }
	vid := newMedia(s, "a video\n", "mp4", 320)
	ups := []seeded{
		{m: m(0)},                         // before records
		{m: m(1), record: true},           //
		{m: m(2), record: true, s3: true}, // offloaded
		{m: m(3), record: true, deleted: true},
		{m: vid, record: true, video: true}, //
		{m: m(5)},                           // before records, newest
	}
	bare := seedRecords(t, l, ups, t0)
	x, r, logs := loadRecords(t, l, repo.Options{Path: bare})

	items := all(t, x)
	want := []string{ups[5].m.path, vid.path, ups[2].m.path, ups[1].m.path, ups[0].m.path}
	if got := paths(items); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("items = %v, want %v (newest first, the deleted one gone)", got, want)
	}
	commits := map[string]string{} // subject → hash
	for _, line := range strings.Split(gittest.Git(t, bare, "log", "--format=%H %s", "main"), "\n") {
		h, subj, _ := strings.Cut(line, " ")
		commits[subj] = h
	}
	at := map[string]int{}
	for i, up := range ups {
		at[up.m.path] = i
	}
	for _, it := range items {
		i := at[it.Path]
		u := ups[i]
		wantRec := u.rec(l, it.Published)
		t.Run(fmt.Sprint("upload ", i), func(t *testing.T) {
			if got, want := it.Commit, commits[wantRec.Subject("Add")]; got != want || got == "" {
				t.Errorf("Commit = %q, want %q", got, want)
			}
			if got, want := it.Published, t0.Add(time.Duration(i)*time.Second); !got.Equal(want) {
				t.Errorf("Published = %v, want %v", got, want)
			}
			rec := it.Record(l)
			for _, c := range []struct{ name, got, want string }{
				{"storage", rec.Storage, wantRec.Storage},
				{"url", rec.URL, wantRec.URL},
				{"type", rec.Type, wantRec.Type},
				{"poster", rec.Poster, wantRec.Poster},
				{"filename", rec.Filename, wantRec.Filename},
				{"client", rec.Client, wantRec.Client},
				{"duration", fmt.Sprint(rec.Duration), fmt.Sprint(wantRec.Duration)},
				{"size", fmt.Sprint(rec.Size), fmt.Sprint(wantRec.Size)},
				{"variants", fmt.Sprint(len(rec.Variants)), fmt.Sprint(len(wantRec.Variants))},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
			for _, v := range rec.Variants {
				if v.Type != "image/jpeg" || v.Width == 0 {
					t.Errorf("variant %+v: want its type and width", v)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "commits_read=") {
		t.Fatalf("no load log line:\n%s", logs)
	}
	// The offloaded upload is found by URL through its record alone.
	if _, err := r.Stat(context.Background(), ups[2].m.path); err == nil {
		t.Fatalf("the offloaded original has a blob")
	}
	it, ok, err := x.Get(context.Background(), ups[2].m.path)
	if err != nil || !ok || it.Storage != record.StorageS3 {
		t.Errorf("Get(offloaded) = %+v, %v, %v", it, ok, err)
	}
	un, err := x.Unrecorded(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(un); len(got) != 2 || got[0] != ups[0].m.path || got[1] != ups[5].m.path {
		t.Errorf("Unrecorded = %v, want the two from before records, oldest first", got)
	}
}

// TestLoadRecordsNoWalk: when every upload has its record, Load reads no
// commit at all; a broken record falls back to history for its file.
func TestLoadRecordsNoWalk(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	var ups []seeded
	for i := range 5 {
		ups = append(ups, seeded{m: newMedia(s, fmt.Sprint("p", i), "jpg", 320), record: true})
	}
	bare := seedRecords(t, l, ups, t0)
	x, _, logs := loadRecords(t, l, repo.Options{Path: bare})
	if x.Len() != 5 || !strings.Contains(logs.String(), "commits_read=0") {
		t.Errorf("Len = %d, log:\n%s", x.Len(), logs)
	}

	// A record by hand that does not match its path: logged, and its
	// original is dated from history instead.
	bad := l.RecordPath(ups[2].m.sha)
	byHand(t, bare, map[string][]byte{bad: []byte(`{"sha256":"nope"}`)}, "Break a record")
	x, _, logs = loadRecords(t, l, repo.Options{Path: bare})
	if x.Len() != 5 || !strings.Contains(logs.String(), "read record") || strings.Contains(logs.String(), "commits_read=0") {
		t.Errorf("Len = %d, log:\n%s", x.Len(), logs)
	}
	it, ok, _ := x.Get(context.Background(), ups[2].m.path)
	if !ok || it.Commit == "" || !it.Published.Equal(t0.Add(2*time.Second)) {
		t.Errorf("item of the broken record = %+v", it)
	}
}

// TestApplyRecords: commits made here with records, an offloaded upload
// (record and thumbnails only) and its delete.
func TestApplyRecords(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	x, r, _ := loadRecords(t, l, repo.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	up := seeded{m: newMedia(s, "offloaded video\n", "mp4", 320), record: true, s3: true, video: true}
	rec := up.rec(l, t0)
	res, err := r.Commit(ctx, repo.Change{
		Add: []repo.Blob{
			{Path: up.m.thumbs[0], File: write("thumb", []byte("thumb"))},
			{Path: l.RecordPath(up.m.sha), File: write("rec", rec.JSON())},
		},
		Message: rec.Message(),
	})
	if err != nil {
		t.Fatal(err)
	}
	it, ok, err := x.Get(ctx, up.m.path)
	if err != nil || !ok {
		t.Fatalf("Get(offloaded) = %v, %v", ok, err)
	}
	if it.Storage != record.StorageS3 || it.Commit != res.Commit || it.Poster != rec.Poster || it.Duration != 12.5 || len(it.Thumbnails) != 1 {
		t.Errorf("offloaded item = %+v", it)
	}
	if _, err := r.Commit(ctx, repo.Change{Delete: []string{l.RecordPath(up.m.sha), up.m.thumbs[0]}, Message: rec.DeleteMessage()}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := x.Get(ctx, up.m.path); ok || x.Len() != 0 {
		t.Errorf("the offloaded upload outlived its record's delete (Len %d)", x.Len())
	}
}
