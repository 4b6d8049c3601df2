//go:build integration

package objstore

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"spano/internal/s3test"
)

// TestPutLarge puts a 120 MB video and a 25 MB photo with the production
// part size and parallelism, checks each with the plain client, and
// bounds the heap the 120 MB put needs.
func TestPutLarge(t *testing.T) {
	srv := s3test.Start(t)
	tests := []struct {
		name, typ, ext string
		size           int64
		maxHeap        uint64 // growth of the live heap during the put
	}{
		{"120 MB video", "video/mp4", "mp4", 120_000_000, 16 << 20},
		{"25 MB photo", "image/jpeg", "jpg", 25_000_000, 16 << 20},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(srv)
			opts.PartSize, opts.Parallel = 0, 0 // the defaults
			s := newStore(t, opts)
			path, obj := writeFile(t, tt.size, uint64(1000+i), tt.typ, tt.ext)

			peak, stop := heapPeak()
			start := time.Now()
			res, err := s.Put(context.Background(), obj, path)
			elapsed := time.Since(start)
			growth := stop()
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if !res.Uploaded {
				t.Error("not uploaded")
			}
			t.Logf("%s: %v, %.0f MB/s, heap grew by at most %.1f MiB (part size %d MiB, %d in flight)",
				tt.name, elapsed.Round(time.Millisecond), float64(tt.size)/1e6/elapsed.Seconds(),
				float64(growth)/(1<<20), DefaultPartSize>>20, DefaultParallel)
			// Buffering parts would need DefaultParallel × 16 MiB = 64 MiB.
			if growth > tt.maxHeap {
				t.Errorf("heap grew by %d bytes during the put (peak %d), want at most %d", growth, peak(), tt.maxHeap)
			}
			checkStored(t, srv, s, obj)
		})
	}
}

// heapPeak samples the heap's object bytes every few milliseconds until
// stop is called, which returns the peak's growth over the start. A
// forced GC first makes the start the live heap.
func heapPeak() (peak func() uint64, stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var mu sync.Mutex
	top := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				v := read()
				mu.Lock()
				top = max(top, v)
				mu.Unlock()
			}
		}
	})
	peak = func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return top
	}
	stop = func() uint64 {
		close(done)
		wg.Wait()
		return peak() - base
	}
	return peak, stop
}
