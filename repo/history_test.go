package repo

import (
	"context"
	"errors"
	"os"
	"spano/internal/gittest"
	"testing"
)

func TestWalkAndList(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushSync})
	ctx := context.Background()
	f1, p1 := media(t, 1000)
	f2, p2 := media(t, 2000)
	for _, c := range []Change{upload(f1, p1), upload(f2, p2), {Delete: []string{p1}, Message: Message{Subject: "Delete"}}} {
		if _, err := r.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var got []CommitInfo
	if err := r.Walk(ctx, func(c CommitInfo) error {
		got = append(got, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("walked %d commits, want 4", len(got))
	}
	if got[0].Message.Subject != "Delete" || len(got[0].Deleted) != 1 || got[0].Deleted[0] != p1 {
		t.Errorf("newest = %+v", got[0])
	}
	if got[1].Added[0] != p2 || got[2].Added[0] != p1 || got[3].Added[0] != "index.md" {
		t.Errorf("order = %+v", got)
	}
	if got[1].Message.Value("Media-Type") != "image/jpeg" {
		t.Errorf("trailers not parsed: %+v", got[1].Message)
	}

	n := 0
	if err := r.Walk(ctx, func(CommitInfo) error { n++; return ErrStopWalk }); err != nil || n != 1 {
		t.Errorf("ErrStopWalk: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	if err := r.Walk(ctx, func(CommitInfo) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("callback error = %v", err)
	}

	entries, err := r.List(ctx, "media")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(f2)
	if len(entries) != 1 || entries[0].Path != p2 || entries[0].Size != fi.Size() {
		t.Errorf("List(media) = %+v", entries)
	}
	all, _ := r.List(ctx, "")
	if len(all) != 2 {
		t.Errorf("List() = %+v", all)
	}
	if none, err := r.List(ctx, "nothing/here"); err != nil || len(none) != 0 {
		t.Errorf("List(missing) = %v, %v", none, err)
	}
}
