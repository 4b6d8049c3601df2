package main

import (
	"strings"
	"testing"

	"spano/config"
	"spano/record"
	"spano/repo"
)

func TestOriginalOf(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.S3.PublicURL = "https://cdn.example.com/media"
	store, err := newStoreFromConfig(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newLayoutFromConfig(cfg, store)
	h := strings.Repeat("ab", 32)
	rec := record.Record{SHA256: h, Type: "video/mp4", Size: 5, Storage: record.StorageS3}
	offloaded := repo.CommitInfo{Message: rec.Message()}
	rec.Storage = record.StorageRepo
	inRepo := repo.CommitInfo{Message: rec.Message()}
	recPath := l.RecordPath(h)
	tests := []struct {
		name  string
		c     repo.CommitInfo
		paths []string
		want  string
	}{
		{"original in the repository", inRepo, []string{recPath, store.Path(h, "mp4")}, store.Path(h, "mp4")},
		{"offloaded: its record", offloaded, []string{store.VariantPath(h, "poster", "jpg"), recPath}, store.Path(h, "mp4")},
		{"a record, trailers say repo", inRepo, []string{recPath}, ""},
		{"a record of another hash", offloaded, []string{l.RecordPath(strings.Repeat("cd", 32))}, ""},
		{"no trailers", repo.CommitInfo{}, []string{recPath}, ""},
		{"nothing of media", offloaded, []string{"index.md"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := record.Original(l, tt.c, tt.paths); got != tt.want {
				t.Errorf("originalOf = %q, want %q", got, tt.want)
			}
		})
	}
	got, ok := record.FromCommit(offloaded, l, record.Original(l, offloaded, []string{recPath}))
	if !ok || got.URL != "https://cdn.example.com/media/ab/ab/"+h+".mp4" || got.Size != 5 {
		t.Errorf("FromCommit of the offloaded upload: %+v %v, want its public URL and size", got, ok)
	}
}
