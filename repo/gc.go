package repo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// defaultGCEvery is how many commits pass between two runs of git gc
// --auto when Options.GCEvery is 0.
const defaultGCEvery = 100

// gcConfig is the git configuration of spano's gc runs:
//   - in the foreground, so that spano knows when it is done;
//   - refs stay as they are (see housekeeper);
//   - media does not delta-compress and barely deflates: files from
//     16 MiB up are stored whole, a delta search holds at most 256 MiB
//     (without a cap, ten videos of 300 MB would be held at once), and
//     deflating is at level 1, as spano writes its loose objects;
//   - spano writes one small pack per group of commits, so it is the
//     pack count (gc.autoPackLimit) that starts most runs, and such a run
//     repacks everything: packs from 64 MiB up are kept as they are, so
//     that it rewrites the small packs and the loose blobs, not the
//     whole media library.
var gcConfig = []string{
	"-c", "gc.autoDetach=false", "-c", "maintenance.auto=false",
	"-c", "gc.packRefs=false", "-c", "gc.bigPackThreshold=64m",
	"-c", "core.bigFileThreshold=16m", "-c", "pack.windowMemory=256m", "-c", "pack.compression=1",
}

// housekeeper runs "git gc --auto" beside spano now and then, as git does
// after commits. spano writes each blob loose and the trees and commits
// of each group of commits as one small pack; left alone, a clone with
// 100,000 uploads would hold 100,000 loose files and as many packs. git
// decides whether there is work (gc.autoPackLimit: 50 packs, gc.auto:
// 6,700 loose objects by default; gc.auto 0 in the clone turns it off).
// Only a run that repacks all (the pack count's) packs the loose blobs:
// git's incremental repack skips what packed commits name.
//
// It runs off the request path, one run at a time, and never packs refs:
// go-git moves refs without taking git's lock files, so a git pack-refs
// racing a commit could undo the branch update. When a run changed the
// packs, every storage reopens before its next read (see storage).
type housekeeper struct {
	git  string // the git binary; "" when there is none
	path string
	sync Syncer
	log  *slog.Logger

	gen     atomic.Uint64 // runs that changed the packs
	running atomic.Bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// newHousekeeper runs git (its path; "" when there is none) in path.
func newHousekeeper(git, path string, sync Syncer, log *slog.Logger) *housekeeper {
	h := &housekeeper{git: git, path: path, sync: sync, log: log}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if git == "" {
		log.Info("no git on PATH: the clone's objects stay loose (no git gc housekeeping)", "path", path)
	}
	return h
}

// run starts a gc unless one is running or there is no git.
func (h *housekeeper) run() {
	if h.git == "" || !h.running.CompareAndSwap(false, true) {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.running.Store(false)
		h.gc()
	}()
}

func (h *housekeeper) gc() {
	before := packs(h.path)
	start := time.Now()
	cmd := exec.CommandContext(h.ctx, h.git, append(gcConfig, "gc", "--auto", "--quiet")...)
	cmd.Dir = h.path
	cmd.Env = append(gitFreeEnv(), "GIT_DIR="+h.path)
	// gc starts repack and prune; stopping spano stops them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if err == nil {
		// Uploads come first: the group (gc and the repack it starts) runs
		// at a lower priority. Failing to lower it is no reason to stop.
		_ = syscall.Setpriority(syscall.PRIO_PGRP, cmd.Process.Pid, 10)
		err = cmd.Wait()
	}
	restoreIndexes(h.git, h.path, h.sync, h.log)
	// Even a failed run may have packed and pruned part of the objects.
	if after := packs(h.path); !slices.Equal(before, after) {
		h.gen.Add(1)
		h.log.Info("packed the clone's loose objects", "packs", len(after), "took", time.Since(start).Round(time.Millisecond))
	}
	if err != nil && h.ctx.Err() == nil {
		h.log.Warn("git gc failed", "err", err, "output", strings.TrimSpace(out.String()))
	}
}

// stop kills a gc in progress and waits for it; git leaves the
// repository consistent when killed.
func (h *housekeeper) stop() {
	h.cancel()
	h.wg.Wait()
}

// restoreIndexes gives back their index to the packs that have none.
// git gc deletes, as garbage, an index it sees without its pack; but it
// lists the pack folder while spano (or a fetch) renames a new pack and
// then its index into it, and a listing can miss the pack and see the
// index. The pack then stays without index, every storage that opens
// fails to read anything, and git itself cannot read the commits in it.
// Each such pack is indexed again (git index-pack checks it whole),
// after every gc run and at Open, before anything reads.
func restoreIndexes(git, path string, sync Syncer, log *slog.Logger) {
	for _, pack := range packs(path) {
		idx := strings.TrimSuffix(pack, ".pack") + ".idx"
		if _, err := os.Lstat(idx); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		cmd := exec.Command(git, "index-pack", pack)
		cmd.Dir = path
		cmd.Env = append(gitFreeEnv(), "GIT_DIR="+path)
		out, err := cmd.CombinedOutput()
		if err == nil {
			err = sync.SyncFile(idx)
		}
		if err == nil {
			err = sync.SyncDir(filepath.Dir(idx))
		}
		if err != nil {
			log.Error("a pack has lost its index and it could not be restored: its objects cannot be read",
				"pack", filepath.Base(pack), "err", err, "output", strings.TrimSpace(string(out)))
			continue
		}
		log.Warn("restored the index of a pack that git gc took for garbage", "pack", filepath.Base(pack))
	}
}

// packs lists the pack files of the repository at path.
func packs(path string) []string {
	names, _ := filepath.Glob(filepath.Join(path, "objects", "pack", "*.pack"))
	return names
}

// gitFreeEnv is the environment without GIT_* variables, so that one set
// for spano's own process cannot point git at another repository.
func gitFreeEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GIT_") })
}
