//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"spano/internal/gittest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// uploadAll has workers clients upload n new PNGs from seed on, retrying
// a 503 (a sync push that lost too many races) the way a client honouring
// Retry-After would, only sooner. It returns the hashes and how many 503s
// were seen.
func uploadAll(t *testing.T, s *spano, n, workers, seed int) ([]string, int) {
	return uploadWhile(t, s, workers, seed, 0, func(i int) bool { return i < n })
}

// uploadWhile is uploadAll for as long as more(i) says so, each client
// pausing between its uploads.
func uploadWhile(t *testing.T, s *spano, workers, seed int, pause time.Duration, more func(i int) bool) ([]string, int) {
	t.Helper()
	var hashes []string
	var (
		mu          sync.Mutex
		unavailable int
		wg          sync.WaitGroup
	)
	jobs := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				data := pngImage(seed + i)
				for try := 0; ; try++ {
					r, err := s.upload(context.Background(), fmt.Sprintf("%s-%d.png", s.name, i), data)
					if err == nil && r.status == http.StatusCreated {
						break
					}
					if err == nil && r.status == http.StatusServiceUnavailable && try < 60 {
						mu.Lock()
						unavailable++
						mu.Unlock()
						time.Sleep(500 * time.Millisecond)
						continue
					}
					t.Errorf("%s upload %d: %v, status %d: %s", s.name, i, err, r.status, r.body)
					break
				}
				time.Sleep(pause)
			}
		}()
	}
	for i := 0; more(i); i++ {
		jobs <- i
		hashes = append(hashes, digest(pngImage(seed+i)))
	}
	close(jobs)
	wg.Wait()
	return hashes, unavailable
}

// TestRemoteMovedUnderLoad has someone else push to the branch every
// 300 ms with the git CLI while spano takes uploads: every upload and
// every foreign commit ends on the remote, the history stays linear, and
// nothing is forced away.
func TestRemoteMovedUnderLoad(t *testing.T) {
	for _, push := range []string{"sync", "async"} {
		t.Run(push, func(t *testing.T) {
			remote := gittest.NewRemote(t, nil)
			o := options{remote: remote, push: push}
			if push == "async" {
				// Without a push delay a busy async spano pushes every
				// commit at once, and a person's pull-and-push in
				// between seldom wins: README asks async users for a
				// delay, and so does this test.
				o.pushDelay = "500ms"
			}
			s := newSpano(t, "spano", o)
			s.start()

			other := newWriter(t, remote)
			stop := make(chan struct{})
			var foreign []string
			var landed atomic.Int32 // len(foreign), for the uploading goroutine
			var foreignErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(300 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					h, err := other.commit(remote)
					if err != nil {
						foreignErr = err
						return
					}
					foreign = append(foreign, h)
					landed.Add(1)
				}
			}()

			// Upload for 5 s, 4 clients at a time, each pausing 250 ms
			// between uploads: in async mode spano would otherwise push
			// so often that the other writer's git CLI seldom gets in. On
			// a loaded machine its pull-and-push can lose to spano's many
			// times in a row: uploads go on (up to 30 s) until the remote
			// has moved under spano at least three times.
			until, hardStop := time.Now().Add(5*time.Second), time.Now().Add(30*time.Second)
			want, unavailable := uploadWhile(t, s, 4, 5000, 250*time.Millisecond, func(int) bool {
				now := time.Now()
				return now.Before(until) || (landed.Load() < 3 && now.Before(hardStop))
			})
			close(stop)
			<-done
			if foreignErr != nil {
				t.Fatalf("the other writer: %v", foreignErr)
			}
			reapplied := strings.Count(s.log.String(), "remote moved; re-applied")
			t.Logf("%d uploads, %d foreign commits, %d re-applies by spano, %d answers 503 (retried)", len(want), len(foreign), reapplied, unavailable)
			if len(foreign) < 3 || reapplied < 1 {
				t.Errorf("%d foreign commits, %d re-applies: the remote hardly moved under spano", len(foreign), reapplied)
			}
			eventually(t, 60*time.Second, func() string { return missing(t, remote, want) })
			for _, h := range foreign {
				if !isAncestor(t, remote, h, "main") {
					t.Errorf("foreign commit %s is not in the remote's history: forced away", h)
				}
			}
			for _, dir := range []string{remote, s.repo} {
				gittest.Fsck(t, dir)
				linear(t, dir, "main")
			}
		})
	}
}

// TestTwoSpanos runs two spano processes, each with its own clone, that
// push to one remote at the same time: all uploads of both end on the
// remote exactly once, in a linear history.
func TestTwoSpanos(t *testing.T) {
	for _, push := range []string{"sync", "async"} {
		t.Run(push, func(t *testing.T) {
			remote := gittest.NewRemote(t, nil)
			a := newSpano(t, "spano-a", options{remote: remote, push: push})
			b := newSpano(t, "spano-b", options{remote: remote, push: push})
			a.start()
			b.start()

			var wantA, wantB []string
			var busyA, busyB int
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); wantA, busyA = uploadAll(t, a, 30, 3, 7000) }()
			go func() { defer wg.Done(); wantB, busyB = uploadAll(t, b, 30, 3, 8000) }()
			wg.Wait()
			t.Logf("503 answers (retried): a %d, b %d", busyA, busyB)

			want := append(wantA, wantB...)
			eventually(t, 60*time.Second, func() string { return missing(t, remote, want) })
			for _, dir := range []string{remote, a.repo, b.repo} {
				gittest.Fsck(t, dir)
				linear(t, dir, "main")
			}
		})
	}
}
