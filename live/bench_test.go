package live

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"spano/internal/atomicfile"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWatch is the cost of one Watch, which appends a line to the
// journal and fsyncs it (and every compactAfter changes rewrites the
// whole state atomically), with a state already holding n uploads.
// BenchmarkAppendFsyncFloor, an append and fsync of one line, is the
// baseline; BenchmarkFsyncFloor is an atomic rewrite of a tiny file
// (temp, fsync, rename, fsync of the folder).
func BenchmarkWatch(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		b.Run("uploads="+strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			state := filepath.Join(dir, "live.json")
			writeLiveState(b, state, n)
			c, err := New(Options{StateFile: state, Allowed: []string{"http://127.0.0.1:1/media"}, FirstDelay: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background())
			b.ResetTimer()
			for i := range b.N {
				if err := c.Watch(benchItem(n+i, "http://127.0.0.1:1/media/")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendFsyncFloor(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "x"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	line := []byte(`{"sha256":"0000000000000000000000000000000000000000000000000000000000000000","status":"pending"}` + "\n")
	for range b.N {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFsyncFloor(b *testing.B) {
	p := filepath.Join(b.TempDir(), "x")
	for range b.N {
		if err := atomicfile.Write(p, []byte("{}\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is what a reader (spano log) pays to ask "is X live?"
// with 10,000 uploads in the state.
func BenchmarkLoad(b *testing.B) {
	state := filepath.Join(b.TempDir(), "live.json")
	writeLiveState(b, state, 10000)
	b.ResetTimer()
	for range b.N {
		if _, err := Load(state); err != nil {
			b.Fatal(err)
		}
	}
}

func benchItem(i int, base string) Item {
	s := sha256.Sum256([]byte(strconv.Itoa(i)))
	h := hex.EncodeToString(s[:])
	return Item{SHA256: h, URL: base + h[:2] + "/" + h[2:4] + "/" + h + ".jpg", Size: 123456,
		Committed: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
}

// writeLiveState writes a state file of n uploads, all live.
func writeLiveState(b *testing.B, path string, n int) {
	b.Helper()
	f := stateFile{Version: stateVersion}
	at := time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC)
	for i := range n {
		f.Uploads = append(f.Uploads, Entry{Item: benchItem(i, "http://127.0.0.1:1/media/"), Status: StatusLive,
			Watched: at, Deadline: at.Add(30 * time.Minute), LiveAt: at})
	}
	data, err := json.Marshal(f)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
}
