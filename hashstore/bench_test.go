package hashstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
)

// upload returns an n-byte stream: a real PNG (so the type check passes)
// followed by pseudo-random bytes generated on the fly, never stored.
func upload(t testing.TB, n int64) io.Reader {
	t.Helper()
	p := pngBytes(t)
	rnd := rand.NewChaCha8([32]byte{7})
	return io.MultiReader(bytes.NewReader(p), io.LimitReader(rnd, n-int64(len(p))))
}

// uploadInMemory is upload's bytes generated once, so benchmarks time the
// spooling and not the generator. It hides bytes.Reader's WriteTo, so
// io.Copy in the baseline reads in chunks as it would from a request.
func uploadInMemory(b *testing.B, n int64) []byte {
	b.Helper()
	data, err := io.ReadAll(upload(b, n))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

type readerOnly struct{ io.Reader }

// smallReads hands out at most 4 KiB per Read, like a multipart part.
type smallReads struct{ r io.Reader }

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 4096)]) }

const benchSize = 50_000_000

func BenchmarkSpool50MB(b *testing.B) {
	s, _ := newStore(b, func(o *Options) { o.MaxSize = benchSize })
	data := uploadInMemory(b, benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		f, err := s.Spool(context.Background(), readerOnly{bytes.NewReader(data)})
		if err != nil {
			b.Fatal(err)
		}
		f.Remove()
	}
}

// BenchmarkSpool50MBSmallReads feeds Spool 4 KiB at a time, as
// multipart.Part does; the write buffer keeps it near the plain case.
func BenchmarkSpool50MBSmallReads(b *testing.B) {
	s, _ := newStore(b, func(o *Options) { o.MaxSize = benchSize })
	data := uploadInMemory(b, benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		f, err := s.Spool(context.Background(), smallReads{bytes.NewReader(data)})
		if err != nil {
			b.Fatal(err)
		}
		f.Remove()
	}
}

// BenchmarkBaselineCopyAndHash50MB is the floor Spool is measured against:
// io.Copy into a temp file and SHA-256 at once, with no checks.
func BenchmarkBaselineCopyAndHash50MB(b *testing.B) {
	dir := b.TempDir()
	data := uploadInMemory(b, benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		f, err := os.CreateTemp(dir, "baseline-*")
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), readerOnly{bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
		h.Sum(nil)
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		os.Remove(f.Name())
	}
}

// memProbe samples the heap every 16 MiB read, to catch a peak that a
// before/after comparison would miss.
type memProbe struct {
	r        io.Reader
	read     int64
	next     int64
	peakHeap uint64
}

func (m *memProbe) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.read += int64(n)
	if m.read >= m.next {
		m.next += 16 << 20
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m.peakHeap = max(m.peakHeap, ms.HeapInuse)
	}
	return n, err
}

func TestSpoolMemoryStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spools 300 MB")
	}
	const size = 300_000_000
	const budget = 4 << 20 // bytes: a few fixed buffers plus noise
	s, dir := newStore(t, func(o *Options) { o.MaxSize = size })
	probe := &memProbe{r: upload(t, size)}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := s.Spool(context.Background(), probe)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove()

	if got, want := f.Size, int64(size); got != want {
		t.Fatalf("Size = %d, want %d", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > budget {
		t.Errorf("allocated %d bytes spooling %d, want under %d", alloc, size, budget)
	}
	if grew := int64(probe.peakHeap) - int64(before.HeapInuse); grew > budget {
		t.Errorf("heap in use grew by %d bytes while spooling, want under %d", grew, budget)
	}
	t.Logf("allocated %d bytes, heap grew at most %d bytes", after.TotalAlloc-before.TotalAlloc, int64(probe.peakHeap)-int64(before.HeapInuse))
	f.Remove()
	assertEmptyDir(t, dir)
}
