package index

import (
	"context"
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
