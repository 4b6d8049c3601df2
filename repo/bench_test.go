package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"spano/internal/gittest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// seedRepo makes a bare repository whose main branch holds n media files
// in the sharded layout, in one commit, with git fast-import (fast to set
// up; the benchmark measures spano, not the seeding).
func seedRepo(b *testing.B, dir string, n int) string {
	b.Helper()
	bare := filepath.Join(dir, fmt.Sprintf("seed-%d.git", n))
	gittest.Git(b, dir, "init", "-q", "--bare", "-b", "main", bare)
	var in strings.Builder
	in.WriteString("commit refs/heads/main\ncommitter Seed <seed@example.com> 1700000000 +0000\ndata 5\nseed\n")
	for i := range n {
		h := fakeHash(i)
		content := fmt.Sprintf("file %d\n", i)
		fmt.Fprintf(&in, "M 100644 inline media/%s/%s/%s.jpg\ndata %d\n%s\n", h[:2], h[2:4], h, len(content), content)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	return bare
}

// latency runs op b.N times and reports the median and 90th percentile.
func latency(b *testing.B, op func(i int)) {
	b.Helper()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		op(i)
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[len(d)*9/10].Microseconds())/1000, "p90-ms")
}

func files(b *testing.B, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i], _ = media(b, 200_000)
	}
	return out
}

// countSyncer is fsync (or nothing, when off), counting the calls, so a
// benchmark can say how many files and folders each commit syncs and
// what the syncs cost.
type countSyncer struct {
	off                bool
	files, dirs, locks atomic.Int64 // locks: ref updates
}

func (c *countSyncer) SyncFile(path string) error {
	c.files.Add(1)
	if strings.HasSuffix(path, ".lock") {
		c.locks.Add(1)
	}
	if c.off {
		return nil
	}
	return syncPath(path)
}

func (c *countSyncer) SyncDir(path string) error {
	c.dirs.Add(1)
	if c.off {
		return nil
	}
	return syncPath(path)
}

func (c *countSyncer) report(b *testing.B) {
	b.ReportMetric(float64(c.files.Load())/float64(b.N), "file-syncs/op")
	b.ReportMetric(float64(c.dirs.Load())/float64(b.N), "dir-syncs/op")
}

// syncModes are the two Syncers of the benchmarks: fsync, and none (to
// show what the syncs cost; never in a real run).
var syncModes = []struct {
	name string
	off  bool
}{{"fsync", false}, {"nosync", true}}

// BenchmarkCommit measures one 200 KB upload committed into repositories
// of 100 and 20,000 files, push off, with and without fsync, against the
// git CLI doing add and commit in a clone of the same repository, made
// durable as spano is (core.fsync=committed, core.fsyncMethod=fsync).
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{100, 20000} {
		dir := b.TempDir()
		seed := seedRepo(b, dir, n)
		for _, m := range syncModes {
			b.Run(fmt.Sprintf("spano-%s/files=%d", m.name, n), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "clone.git")
				gittest.Git(b, dir, "clone", "-q", "--bare", seed, path)
				s := &countSyncer{off: m.off}
				r := open(b, Options{Path: path, Push: PushOff, Syncer: s, GCEvery: -1})
				srcs := files(b, b.N)
				s.files.Store(0)
				s.dirs.Store(0)
				latency(b, func(i int) {
					if _, err := r.Commit(context.Background(), upload(srcs[i], pathOf(srcs[i]))); err != nil {
						b.Fatal(err)
					}
				})
				s.report(b)
			})
		}
		b.Run(fmt.Sprintf("git-cli-fsync/files=%d", n), func(b *testing.B) {
			work := filepath.Join(b.TempDir(), "work")
			gittest.Git(b, dir, "clone", "-q", seed, work)
			gittest.Git(b, work, "config", "core.fsync", "committed")
			gittest.Git(b, work, "config", "core.fsyncMethod", "fsync")
			gittest.Git(b, work, "config", "gc.auto", "0")
			srcs := files(b, b.N)
			latency(b, func(i int) { gitAddCommit(b, work, srcs[i], "") })
		})
	}
}

// BenchmarkWriteBlob writes one 400 KB file that does not deflate (as a
// JPEG does not) into the object store, with and without fsync.
func BenchmarkWriteBlob(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := &countSyncer{off: m.off}
			r := open(b, Options{Push: PushOff, Syncer: s, GCEvery: -1})
			srcs := make([]string, b.N)
			for i := range srcs {
				srcs[i], _ = media(b, 400_000)
			}
			b.SetBytes(400_000)
			latency(b, func(i int) {
				if _, err := r.WriteBlob(context.Background(), srcs[i]); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkCommitPush is BenchmarkCommit with a push to a local bare
// remote after every upload: spano in sync mode against git add, commit
// and push.
func BenchmarkCommitPush(b *testing.B) {
	for _, n := range []int{100, 20000} {
		dir := b.TempDir()
		seed := seedRepo(b, dir, n)
		b.Run(fmt.Sprintf("spano/files=%d", n), func(b *testing.B) {
			remote := filepath.Join(b.TempDir(), "remote.git")
			gittest.Git(b, dir, "clone", "-q", "--bare", seed, remote)
			r := open(b, Options{Remote: remote, Push: PushSync})
			srcs := files(b, b.N)
			latency(b, func(i int) {
				res, err := r.Commit(context.Background(), upload(srcs[i], pathOf(srcs[i])))
				if err != nil || !res.Pushed {
					b.Fatal(res, err)
				}
			})
		})
		b.Run(fmt.Sprintf("git-cli/files=%d", n), func(b *testing.B) {
			remote := filepath.Join(b.TempDir(), "remote.git")
			gittest.Git(b, dir, "clone", "-q", "--bare", seed, remote)
			work := filepath.Join(b.TempDir(), "work")
			gittest.Git(b, dir, "clone", "-q", remote, work)
			srcs := files(b, b.N)
			latency(b, func(i int) { gitAddCommit(b, work, srcs[i], "origin") })
		})
	}
}

func pathOf(file string) string {
	h := strings.TrimSuffix(filepath.Base(file), ".jpg")
	return fmt.Sprintf("media/%s/%s/%s.jpg", h[:2], h[2:4], h)
}

// gitAddCommit is the baseline: what a script around the git CLI does for
// one upload.
func gitAddCommit(b *testing.B, work, src, remote string) {
	p := pathOf(src)
	dst := filepath.Join(work, filepath.FromSlash(p))
	os.MkdirAll(filepath.Dir(dst), 0o755)
	data, _ := os.ReadFile(src)
	os.WriteFile(dst, data, 0o644)
	gittest.Git(b, work, "add", p)
	gittest.Git(b, work, "commit", "-q", "-m", "Add "+filepath.Base(p))
	if remote != "" {
		gittest.Git(b, work, "push", "-q", remote, "HEAD:main")
	}
}

const walkN = 10000

// BenchmarkWalk reads the media history of 10,000 uploads, one commit
// each, as `spano log` does.
func BenchmarkWalk(b *testing.B) {
	dir := b.TempDir()
	bare := filepath.Join(dir, "history.git")
	gittest.Git(b, dir, "init", "-q", "--bare", "-b", "main", bare)
	var in strings.Builder
	for i := range walkN {
		h := fakeHash(i)
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter spano <spano@localhost> %d +0000\ndata <<EOF\nAdd %s.jpg\n\nMedia-SHA256: %s\nEOF\n", 1700000000+i, h[:12], h)
		fmt.Fprintf(&in, "M 100644 inline media/%s/%s/%s.jpg\ndata 2\n%d\n\n", h[:2], h[2:4], h, i%10)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	r := open(b, Options{Path: bare})
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := r.Walk(context.Background(), func(CommitInfo) error { n++; return nil }); err != nil || n != walkN {
			b.Fatal(n, err)
		}
	}
}

// fakeHash spreads seeded files over the shard folders as real uploads
// are spread: by a SHA-256.
func fakeHash(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(sum[:])
}

// BenchmarkHousekeeping commits b.N 20 KB uploads with push off, with
// git gc --auto every 100 commits (the default) and without, and reports
// what the clone's objects folder holds at the end: files, and disk use
// in 4 KiB blocks as du counts it. The commit latency shows what a gc
// running beside the writer costs it.
func BenchmarkHousekeeping(b *testing.B) {
	for _, gc := range []struct {
		name  string
		every int
	}{{"gc-auto", 0}, {"no-gc", -1}} {
		b.Run(gc.name, func(b *testing.B) {
			r := open(b, Options{Push: PushOff, GCEvery: gc.every})
			srcs := make([]string, b.N)
			for i := range srcs {
				srcs[i], _ = media(b, 20_000)
			}
			latency(b, func(i int) {
				if _, err := r.Commit(context.Background(), upload(srcs[i], pathOf(srcs[i]))); err != nil {
					b.Fatal(err)
				}
			})
			for r.gc != nil && r.gc.running.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			var files, blocks int64
			err := filepath.WalkDir(filepath.Join(r.opts.Path, "objects"), func(_ string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				files++
				blocks += (info.Size() + 4095) / 4096
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(files), "object-files")
			b.ReportMetric(float64(blocks*4096)/(1<<20), "object-MiB")
		})
	}
}

// BenchmarkCommitParallel commits 200 KB uploads from 8 goroutines at
// once, push off, fsync on: the writer groups them. It reports commits
// per second and the mean group size (ref updates per commit).
func BenchmarkCommitParallel(b *testing.B) {
	s := &countSyncer{}
	r := open(b, Options{Push: PushOff, Syncer: s, GCEvery: -1})
	srcs := files(b, b.N)
	var next atomic.Int64
	s.files.Store(0)
	s.dirs.Store(0)
	b.SetParallelism(4) // 8 goroutines on 2 CPUs
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			src := srcs[next.Add(1)-1]
			if _, err := r.Commit(context.Background(), upload(src, pathOf(src))); err != nil {
				b.Error(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
	b.ReportMetric(float64(b.N)/float64(s.locks.Load()), "commits/group")
}
