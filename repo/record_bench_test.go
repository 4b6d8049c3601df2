package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spano/internal/gittest"
)

// BenchmarkCommitRecord measures what an upload's record file (site.records)
// adds to its commit: the same 200 KB uploads into a 20,000-file
// repository, fsync on, with and without a ~600-byte record at
// _data/spano/ab/cd/<hash>.json beside the original (its own shard
// trees, one more blob in the blob round).
func BenchmarkCommitRecord(b *testing.B) {
	dir := b.TempDir()
	seed := seedRepo(b, dir, 20000)
	for _, withRecord := range []bool{false, true} {
		b.Run(fmt.Sprintf("record=%v", withRecord), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "clone.git")
			gittest.Git(b, dir, "clone", "-q", "--bare", seed, path)
			s := &countSyncer{}
			r := open(b, Options{Path: path, Push: PushOff, Syncer: s, GCEvery: -1})
			changes := make([]Change, b.N)
			for i := range changes {
				src, p := media(b, 200_000)
				changes[i] = upload(src, p)
				if withRecord {
					changes[i].Add = append(changes[i].Add, recordBlob(b, p))
				}
			}
			s.files.Store(0)
			s.dirs.Store(0)
			latency(b, func(i int) {
				if _, err := r.Commit(context.Background(), changes[i]); err != nil {
					b.Fatal(err)
				}
			})
			s.report(b)
		})
	}
}

// recordBlob is a record file for the original at p, of the size and
// shape spano writes.
func recordBlob(b *testing.B, p string) Blob {
	h := strings.TrimSuffix(filepath.Base(p), ".jpg")
	json := fmt.Sprintf(`{"url":"https://example.com/%[2]s","path":"%[2]s","sha256":"%[1]s","type":"image/jpeg",`+
		`"size":200000,"width":4000,"height":3000,"published":"2026-12-02T08:00:00Z","storage":"repo",`+
		`"filename":"IMG_0001.jpg","client":"https://quill.p3k.io/","variants":[`+
		`{"url":"https://example.com/media/%[3]s/%[4]s/%[1]s-320.jpg","type":"image/jpeg","width":320,"height":240},`+
		`{"url":"https://example.com/media/%[3]s/%[4]s/%[1]s-640.jpg","type":"image/jpeg","width":640,"height":480}]}`+"\n",
		h, p, h[:2], h[2:4])
	file := filepath.Join(b.TempDir(), h+".json")
	if err := os.WriteFile(file, []byte(json), 0o600); err != nil {
		b.Fatal(err)
	}
	return Blob{Path: fmt.Sprintf("_data/spano/%s/%s/%s.json", h[:2], h[2:4], h), File: file}
}
