package index

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"spano/hashstore"
	"spano/record"
	"spano/repo"
)

// snapshotRun is one start of spano over the repository at path: the
// index wired into the repository's notices, with its snapshot file,
// loaded; what it logged goes to log.
type snapshotRun struct {
	x   *Index
	r   *repo.Repo
	log bytes.Buffer
}

func startWithSnapshot(t *testing.T, s *hashstore.Store, l record.Layout, path, snap string) *snapshotRun {
	t.Helper()
	run := &snapshotRun{}
	log := slog.New(slog.NewTextHandler(&run.log, nil))
	run.x = New(Options{Store: s, MediaDir: "media", Layout: l, Snapshot: snap, Logger: log})
	run.r = openRepo(t, repo.Options{Path: path, Push: repo.PushOff, Notify: run.x.Apply})
	if err := run.x.Load(context.Background(), run.r); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return run
}

// stop closes the repository and saves the snapshot, as serve does.
func (run *snapshotRun) stop(t *testing.T) {
	t.Helper()
	if err := run.r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := run.x.Save(context.Background(), run.r); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func (run *snapshotRun) from() string {
	for _, line := range strings.Split(run.log.String(), "\n") {
		if strings.Contains(line, "media index loaded") {
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "from="); ok {
					return v
				}
			}
		}
	}
	return ""
}

// records seeds a branch of n uploads with records, the oldest of them
// without one (made before records existed), and a clone of it.
func recordsClone(t *testing.T, s *hashstore.Store, l record.Layout, n int) string {
	t.Helper()
	ups := make([]seeded, n)
	for i := range ups {
		ups[i] = seeded{m: newMedia(s, fmt.Sprintf("snap %d\n", i), "jpg", 320), record: i > 0}
	}
	ups[n-1].deleted = true
	return seedRecords(t, l, ups, time.Unix(1700000000, 0))
}

func TestSnapshotRestart(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	path := recordsClone(t, s, l, 6)
	snap := filepath.Join(t.TempDir(), "index.snapshot")

	first := startWithSnapshot(t, s, l, path, snap)
	if got := first.from(); got != "branch" {
		t.Fatalf("first start loaded from %q, want the branch", got)
	}
	m := newMedia(s, "uploaded in the first run\n", "png", 320)
	upload(t, first.r, m, 40, 30)
	want := all(t, first.x)
	first.stop(t)

	second := startWithSnapshot(t, s, l, path, snap)
	if got := second.from(); got != "snapshot" {
		t.Fatalf("restart loaded from %q, want the snapshot\n%s", got, second.log.String())
	}
	got := all(t, second.x) // the page finds the commits again
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index from the snapshot differs from the one saved (-saved +restarted):\n%s", diff)
	}
	if len(got) != 6 || got[0].Path != m.path || got[0].Commit == "" {
		t.Errorf("restart shows %v, want the first run's upload on top with its commit", paths(got))
	}

	// What a run built from scratch holds is what the snapshot held.
	fresh := startWithSnapshot(t, s, l, path, "")
	if diff := cmp.Diff(all(t, fresh.x), got); diff != "" {
		t.Errorf("index from the snapshot differs from one built from the branch (-built +snapshot):\n%s", diff)
	}
}

// A snapshot is believed only for the files it describes: one written
// before a crash, or before someone else's upload arrived, is not.
func TestSnapshotOfOtherFiles(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	path := recordsClone(t, s, l, 4)
	snap := filepath.Join(t.TempDir(), "index.snapshot")

	first := startWithSnapshot(t, s, l, path, snap) // writes the snapshot
	m := newMedia(s, "committed, then a crash\n", "jpg", 320)
	upload(t, first.r, m, 40, 30)
	if err := first.r.Close(context.Background()); err != nil { // no Save: the crash
		t.Fatal(err)
	}

	second := startWithSnapshot(t, s, l, path, snap)
	if got := second.from(); got != "branch" {
		t.Fatalf("start after a crash loaded from %q, want the branch", got)
	}
	if got := all(t, second.x); len(got) != 4 || got[0].Path != m.path {
		t.Fatalf("after a crash: %v, want the upload made before it on top", paths(got))
	}
	second.stop(t)

	// Only a thumbnail changes: the media tree is another, so is the index.
	third := startWithSnapshot(t, s, l, path, snap)
	if got := third.from(); got != "snapshot" {
		t.Fatalf("clean restart loaded from %q", got)
	}
	thumb := s.ThumbnailPath(m.sha, 640, "jpg")
	tmp := filepath.Join(t.TempDir(), "thumb")
	os.WriteFile(tmp, []byte("640"), 0o600)
	if _, err := third.r.Commit(context.Background(), repo.Change{Add: []repo.Blob{{Path: thumb, File: tmp}},
		Message: repo.Message{Subject: "Add a thumbnail by hand"}}); err != nil {
		t.Fatal(err)
	}
	third.r.Close(context.Background())
	fourth := startWithSnapshot(t, s, l, path, snap)
	if got := fourth.from(); got != "branch" {
		t.Fatalf("after a change to the media folder loaded from %q", got)
	}
	if got := all(t, fourth.x); len(got[0].Thumbnails) != 2 {
		t.Errorf("thumbnails %+v, want the one added by hand too", got[0].Thumbnails)
	}
}

func TestSnapshotRefused(t *testing.T) {
	s := newStore(t)
	l := testLayout(s)
	path := recordsClone(t, s, l, 3)
	for name, spoil := range map[string]func(t *testing.T, snap string){
		"garbage": func(t *testing.T, snap string) { os.WriteFile(snap, []byte("not a snapshot"), 0o600) },
		"cut short": func(t *testing.T, snap string) {
			b, _ := os.ReadFile(snap)
			os.WriteFile(snap, b[:len(b)/2], 0o600)
		},
		"other record folder": func(t *testing.T, snap string) {
			other := l
			other.DataDir = "data"
			x := New(Options{Store: s, MediaDir: "media", Layout: other, Snapshot: snap})
			r := openRepo(t, repo.Options{Path: path, Push: repo.PushOff, Notify: x.Apply})
			if err := x.Load(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			r.Close(context.Background())
		},
	} {
		t.Run(name, func(t *testing.T) {
			snap := filepath.Join(t.TempDir(), "index.snapshot")
			startWithSnapshot(t, s, l, path, snap).stop(t)
			spoil(t, snap)
			run := startWithSnapshot(t, s, l, path, snap)
			if got := run.from(); got != "branch" {
				t.Fatalf("loaded from %q, want the branch", got)
			}
			if got := all(t, run.x); len(got) != 2 {
				t.Fatalf("index has %v", paths(got))
			}
			run.stop(t)
			if got := startWithSnapshot(t, s, l, path, snap).from(); got != "snapshot" {
				t.Errorf("the snapshot was not rewritten: the next start loaded from %q", got)
			}
		})
	}
}
