package index

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"spano/repo"
)

func encode(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestPage(t *testing.T) {
	s := newStore(t)
	bare, media := seed(t, s, 25, t0)
	x, r := load(t, s, repo.Options{Path: bare, Now: func() time.Time { return t0.Add(time.Hour) }})
	// Newest first: media[24] … media[0]; one PNG and one MP4 on top.
	png := newMedia(s, "png", "png")
	mp4 := newMedia(s, "mp4", "mp4")
	upload(t, r, png, 2, 2)
	upload(t, r, mp4, 0, 0)
	jpgs := func(from, to int) []string { // media[from] down to media[to]
		var out []string
		for i := from; i >= to; i-- {
			out = append(out, media[i].path)
		}
		return out
	}
	tests := []struct {
		name      string
		q         Query
		want      []string
		wantAfter bool
	}{
		{name: "default limit", q: Query{}, want: append([]string{mp4.path, png.path}, jpgs(24, 7)...), wantAfter: true},
		{name: "limit 1", q: Query{Limit: 1}, want: []string{mp4.path}, wantAfter: true},
		{name: "limit over max", q: Query{Limit: 1000}, want: append([]string{mp4.path, png.path}, jpgs(24, 0)...)},
		{name: "offset", q: Query{Limit: 3, Offset: 2}, want: jpgs(24, 22), wantAfter: true},
		{name: "offset past the end", q: Query{Offset: 100}, want: nil},
		{name: "last page exactly full", q: Query{Limit: 2, Offset: 25}, want: jpgs(1, 0)},
		{name: "major type", q: Query{Type: "image", Limit: 2}, want: []string{png.path, media[24].path}, wantAfter: true},
		{name: "major type with star", q: Query{Type: "image/*", Limit: 1}, want: []string{png.path}, wantAfter: true},
		{name: "exact type", q: Query{Type: "image/png"}, want: []string{png.path}},
		{name: "video", q: Query{Type: "video"}, want: []string{mp4.path}},
		{name: "no match", q: Query{Type: "audio"}, want: nil},
		{name: "no match exact", q: Query{Type: "image/gif"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := x.Page(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(paths(p.Items), tt.want); diff != "" && !(len(tt.want) == 0 && len(p.Items) == 0) {
				t.Errorf("items (-got +want):\n%s", diff)
			}
			if got := p.After != ""; got != tt.wantAfter {
				t.Errorf("after = %q, want a cursor: %v", p.After, tt.wantAfter)
			}
		})
	}
}

// Following cursors visits every item once, even as new uploads arrive
// at the top and the item a cursor names is deleted.
func TestPageCursor(t *testing.T) {
	s := newStore(t)
	bare, media := seed(t, s, 10, t0)
	x, r := load(t, s, repo.Options{Path: bare, Now: func() time.Time { return t0.Add(time.Hour) }})

	var seen []string
	p, err := x.Page(context.Background(), Query{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, paths(p.Items)...)
	upload(t, r, newMedia(s, "new on top", "jpg"), 1, 1)
	for p.After != "" {
		if len(seen) == 6 {
			// The last item of the previous page (media[4]) goes away.
			remove(t, r, media[4])
		}
		if p, err = x.Page(context.Background(), Query{Limit: 3, After: p.After}); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, paths(p.Items)...)
	}
	var want []string
	for i := 9; i >= 0; i-- {
		want = append(want, media[i].path)
	}
	if diff := cmp.Diff(seen, want); diff != "" {
		t.Errorf("pages (-got +want):\n%s", diff)
	}

	// A cursor with a filter continues within the filter.
	p, _ = x.Page(context.Background(), Query{Limit: 2, Type: "image"})
	p, _ = x.Page(context.Background(), Query{Limit: 2, Type: "image", After: p.After})
	if diff := cmp.Diff(paths(p.Items), []string{media[8].path, media[7].path}); diff != "" {
		t.Errorf("second filtered page (-got +want):\n%s", diff)
	}
}
