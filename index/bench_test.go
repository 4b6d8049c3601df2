package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"spano/repo"
)

// BenchmarkLoad measures start-up: opening the repository and loading
// the index from a history of 10,000 uploads (30,000 files).
func BenchmarkLoad(b *testing.B) {
	s := newStore(b)
	bare, _ := seed(b, s, benchN, time.Unix(1700000000, 0))
	b.ResetTimer()
	for range b.N {
		r, err := repo.Open(context.Background(), repo.Options{Path: bare, Push: repo.PushOff})
		if err != nil {
			b.Fatal(err)
		}
		x := New(Options{Store: s, MediaDir: "media"})
		if err := x.Load(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		if got := x.Len(); got != benchN {
			b.Fatalf("Len = %d", got)
		}
		r.Close(context.Background())
	}
}

var benchN = 10000

// BenchmarkLoadRecords measures start-up from records: the same 10,000
// uploads, each with its record file, so Load reads no history; compare
// with BenchmarkLoad, the history walk, in the same run.
func BenchmarkLoadRecords(b *testing.B) {
	start := recordsStart(b, "")
	b.ResetTimer()
	for range b.N {
		start()
	}
}

// BenchmarkLoadSnapshot measures a restart: the same 10,000 uploads with
// records, and the snapshot the previous run left in data_dir; compare
// with BenchmarkLoadRecords (the first start, or one after a crash) in
// the same run.
func BenchmarkLoadSnapshot(b *testing.B) {
	snap := filepath.Join(b.TempDir(), "index.snapshot")
	start := recordsStart(b, snap)
	start() // the first start writes the snapshot
	if st, err := os.Stat(snap); err == nil {
		b.Logf("snapshot: %d bytes", st.Size())
	}
	b.ResetTimer()
	for range b.N {
		start()
	}
}

// recordsStart seeds benchN uploads with records and returns a start of
// spano over them: open the repository, load the index (with the
// snapshot file snap, if not ""), serve the first page with its commits
// (what a client sees first), close.
func recordsStart(b *testing.B, snap string) func() {
	s := newStore(b)
	l := testLayout(s)
	ups := make([]seeded, benchN)
	for i := range ups {
		ups[i] = seeded{m: newMedia(s, fmt.Sprintf("photo %d\n", i), "jpg", 320, 640), record: true}
	}
	bare := seedRecords(b, l, ups, time.Unix(1700000000, 0))
	return func() {
		r, err := repo.Open(context.Background(), repo.Options{Path: bare, Push: repo.PushOff})
		if err != nil {
			b.Fatal(err)
		}
		x := New(Options{Store: s, MediaDir: "media", Layout: l, Snapshot: snap})
		if err := x.Load(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		if got := x.Len(); got != benchN {
			b.Fatalf("Len = %d", got)
		}
		if p, err := x.Page(context.Background(), Query{}); err != nil || p.Items[0].Commit == "" {
			b.Fatalf("first page: %v", err)
		}
		r.Close(context.Background())
	}
}
