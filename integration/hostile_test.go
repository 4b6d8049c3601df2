//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spano/internal/gittest"
)

// Limits the slowloris test holds spano to while 1,000 slow clients and
// 50 real uploads are connected at once. The spool may hold the 50 real
// uploads and the unidentified pool's 16 files of 1 MB at most; the
// process's memory stays far from what the 2026 probe reached (1.62 GB
// for 100 connections).
const (
	slowClients   = 1000
	realUploads   = 50
	maxRSS        = 512 << 20
	maxSpoolSlack = 16<<20 + 4<<20 // unidentified pool (16 × 1 MB) + part headers and thumbnails
	healthWithin  = time.Second
)

// TestSlowloris is issue 15's first row against the real binary: slow
// clients of three kinds (request headers at 1 byte a second; an
// unauthenticated 45 MB upload whose file comes at 1 byte a second; one
// whose part header does) hold 1,000 connections while 50 real uploads
// are sent. Every real upload gets 201, /healthz answers within a second
// throughout, memory and spool stay under the limits above, and the
// deadlines (netlimit's defaults: 10 s for headers, 4 KiB in every 30 s
// for a body) shed every slow client by themselves.
//
// It needs cmd/spano to serve through netlimit.Listener and
// netlimit.NewServer, with server.NewSpooler and the verifier's
// Middleware wired in (see the report of issue 15).
func TestSlowloris(t *testing.T) {
	s := newSpano(t, "slowloris", options{remote: gittest.NewRemote(t, nil), widths: []int{320}})
	s.start()
	addr := strings.TrimPrefix(s.url(""), "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Watch health, memory and the spool the whole time.
	w := watch(t, s)

	// The slow clients.
	var shed atomic.Int64
	var slow sync.WaitGroup
	for i := 0; i < slowClients; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		slow.Add(1)
		go func(i int, c net.Conn) {
			defer slow.Done()
			if slowClient(ctx, c, i%3) {
				shed.Add(1)
			}
		}(i, c)
	}

	// The real uploads, all at once, while the slow clients hold on.
	var real sync.WaitGroup
	statuses := make([]int, realUploads)
	photo := jpegImage(1, 1200, 900)
	for i := 0; i < realUploads; i++ {
		real.Add(1)
		go func(i int) {
			defer real.Done()
			data := append([]byte(nil), photo...)
			data = append(data, byte(i), byte(i>>8)) // different bytes, different commits
			r, err := s.upload(ctx, fmt.Sprintf("real-%d.jpg", i), data)
			if err != nil {
				t.Errorf("real upload %d: %v", i, err)
				return
			}
			statuses[i] = r.status
		}(i)
	}
	real.Wait()
	for i, st := range statuses {
		if st != http.StatusCreated {
			t.Errorf("real upload %d: status %d, want 201", i, st)
		}
	}

	// The deadlines end the slow clients by themselves.
	slowDone := make(chan struct{})
	go func() { slow.Wait(); close(slowDone) }()
	select {
	case <-slowDone:
	case <-time.After(90 * time.Second):
		t.Errorf("slow clients still connected 90 s in: %d of %d shed", shed.Load(), slowClients)
		cancel()
		<-slowDone
	}
	w.stop()

	if got := shed.Load(); got != slowClients {
		t.Errorf("%d of %d slow clients shed by the server", got, slowClients)
	}
	if d := time.Duration(w.health.Load()); d > healthWithin {
		t.Errorf("/healthz took up to %s, want within %s (a failed probe counts as an hour; last failure: %v)", d, healthWithin, w.failure.Load())
	}
	if got := w.rss.Load(); got > maxRSS {
		t.Errorf("RSS reached %d MB, want under %d MB", got>>20, maxRSS>>20)
	}
	if got, limit := w.spool.Load(), int64(realUploads*(len(photo)+2))+maxSpoolSlack; got > limit {
		t.Errorf("spool reached %d bytes, want under %d", got, limit)
	}
	t.Logf("worst /healthz %s, worst q=config %s, RSS %d MB, spool %d KB", time.Duration(w.health.Load()),
		time.Duration(w.config.Load()), w.rss.Load()>>20, w.spool.Load()>>10)
}

// watcher polls a spano every 200 ms and keeps the worst it saw: the
// time /healthz and q=config took (an hour for a failure), the process's
// RSS and the bytes in data_dir/tmp.
type watcher struct {
	health, config, rss, spool atomic.Int64
	failure                    atomic.Value // string: the last probe that failed, and how
	quit, done                 chan struct{}
}

func watch(t *testing.T, s *spano) *watcher {
	w := &watcher{quit: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 5 * time.Second}
	timed := func(path string) int64 {
		req, _ := http.NewRequest(http.MethodGet, s.url(path), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := hc.Do(req)
		took := time.Since(start)
		if err != nil {
			w.failure.Store(fmt.Sprintf("%s after %s: %v", path, took, err))
			return int64(time.Hour)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.failure.Store(fmt.Sprintf("%s after %s: %s %s", path, took, resp.Status, body))
			return int64(time.Hour)
		}
		return int64(took)
	}
	worse := func(v *atomic.Int64, n int64) { v.Store(max(v.Load(), n)) }
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
			worse(&w.health, timed("/healthz"))
			// q=config touches no repository: it tells the network limits'
			// share of a slow /healthz from the repository writer's.
			worse(&w.config, timed("/micropub/media?q=config"))
			worse(&w.rss, rss(t, s))
			worse(&w.spool, dirSize(filepath.Join(s.dataDir, "tmp")))
		}
	}()
	return w
}

func (w *watcher) stop() {
	close(w.quit)
	<-w.done
}

// slowClient plays one slow client of kind 0 (headers at 1 byte a
// second), 1 (an unauthenticated upload whose file trickles) or 2 (one
// whose part header trickles), until ctx ends or the server closes the
// connection or answers; it reports whether the server ended it.
func slowClient(ctx context.Context, c net.Conn, kind int) bool {
	defer c.Close()
	const boundary = "slowloris-boundary"
	var fast, trickle string
	switch kind {
	case 0:
		fast, trickle = "POST /micropub/media HTTP/1.1\r\nHost: x\r\n", strings.Repeat("X-Slow: a\r\n", 1000)
	case 1:
		fast = "POST /micropub/media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + boundary +
			"\r\nContent-Length: 45000000\r\n\r\n--" + boundary +
			"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.mp4\"\r\n\r\n\x00\x00\x00\x18ftypisom"
		trickle = strings.Repeat("\x00", 45000000)
	default:
		fast = "POST /micropub/media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + boundary +
			"\r\nContent-Length: 45000000\r\n\r\n--" + boundary + "\r\n"
		trickle = "Content-Disposition: form-data; name=\"file\"; filename=\"" + strings.Repeat("a", 4000)
	}
	if _, err := c.Write([]byte(fast)); err != nil {
		return true
	}
	ended := make(chan struct{})
	go func() { // the server ends it by answering or closing
		defer close(ended)
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, _ = bufio.NewReader(c).ReadString('\n')
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; i < len(trickle); i++ {
		select {
		case <-ended:
			return true
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if _, err := c.Write([]byte{trickle[i]}); err != nil {
			return true
		}
	}
	return false
}

// rss is the resident memory of s's process, from /proc.
func rss(t *testing.T, s *spano) int64 {
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0 // not Linux, or exiting: not measured
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
