package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/internal/gittest"
)

// TestPushed: a commit is pushed once the remote has it, not while it
// waits, and never with push off.
func TestPushed(t *testing.T) {
	ctx := context.Background()
	t.Run("push off", func(t *testing.T) {
		r := open(t, Options{Push: PushOff})
		file, p := media(t, 100)
		res, err := r.Commit(ctx, upload(file, p))
		if err != nil {
			t.Fatal(err)
		}
		if r.Pushed(res.Commit) {
			t.Errorf("Pushed(%s) = true with push off", res.Commit)
		}
	})
	t.Run("sync, remote away then back", func(t *testing.T) {
		remote := gittest.NewRemote(t, nil)
		r := open(t, Options{Remote: remote, Push: PushSync, PushAttempts: 1, Backoff: func(int) time.Duration { return time.Hour }})
		head, err := r.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Pushed(head) {
			t.Errorf("Pushed(cloned head) = false")
		}
		if r.Pushed("") {
			t.Errorf(`Pushed("") = true`)
		}
		gone := remote + ".away"
		if err := os.Rename(remote, gone); err != nil {
			t.Fatal(err)
		}
		file, p := media(t, 100)
		res, err := r.Commit(ctx, upload(file, p))
		if !errors.Is(err, ErrPushFailed) {
			t.Fatalf("err = %v, want ErrPushFailed", err)
		}
		if r.Pushed(res.Commit) {
			t.Errorf("Pushed(%s) = true for a commit the remote refused", res.Commit)
		}
		if err := os.Rename(gone, remote); err != nil {
			t.Fatal(err)
		}
		res2, err := r.Commit(ctx, upload(file, p)) // a retry pushes what waits
		if err != nil || !res2.Pushed {
			t.Fatalf("retry = %+v, %v", res2, err)
		}
		if !r.Pushed(res.Commit) {
			t.Errorf("Pushed(%s) = false after the push", res.Commit)
		}
	})
}

// TestReapplyDropsDuplicateWithRecord: two spanos store the same file;
// their record files differ (each has its own publication time). The one
// that pushes second re-applies onto the first's commit: the original is
// there with the same bytes and the remote's record is kept, so its
// commit is dropped whole, record and all.
func TestReapplyDropsDuplicateWithRecord(t *testing.T) {
	ctx := context.Background()
	remote := gittest.NewRemote(t, nil)
	file, p := media(t, 2000)
	sha := strings.TrimSuffix(filepath.Base(p), ".jpg")
	recPath := "_data/spano/" + sha[:2] + "/" + sha[2:4] + "/" + sha + ".json"
	change := func(published string) Change {
		rec := filepath.Join(t.TempDir(), "record.json")
		if err := os.WriteFile(rec, []byte(`{"sha256":"`+sha+`","published":"`+published+`"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := upload(file, p)
		c.Add = append(c.Add, Blob{Path: recPath, File: rec})
		return c
	}
	late := open(t, Options{Remote: remote, Push: PushAsync, PushDelay: time.Hour})
	if _, err := late.Commit(ctx, change("2026-01-01T00:00:02Z")); err != nil {
		t.Fatal(err)
	}
	first := open(t, Options{Remote: remote, Push: PushSync})
	won, err := first.Commit(ctx, change("2026-01-01T00:00:01Z"))
	if err != nil || !won.Pushed {
		t.Fatalf("first commit = %+v, %v", won, err)
	}
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := late.Close(closeCtx); err != nil { // the final push re-applies
		t.Fatalf("Close: %v", err)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != won.Commit {
		t.Errorf("remote main = %s, want the first upload %s alone", got, won.Commit)
	}
	if n := strings.Count(gittest.Git(t, remote, "log", "--format=%s", "main"), "Add "); n != 1 {
		t.Errorf("remote has %d upload commits, want 1", n)
	}
	if got := gittest.Git(t, remote, "show", "main:"+recPath); !strings.Contains(got, "00:00:01Z") {
		t.Errorf("record on the remote = %s, want the first's", got)
	}
}
