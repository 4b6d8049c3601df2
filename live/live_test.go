package live

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeSite stands in for a static site host: before its deploy it
// answers 404 for everything; after, it serves the deployed files with
// net/http's own file serving (HEAD, Range).
type fakeSite struct {
	t   *testing.T
	srv *httptest.Server

	refuseHead  bool          // answer HEAD with 405, as some hosts do
	ignoreRange bool          // answer a ranged GET with the whole file
	latency     time.Duration // before each answer

	mu         sync.Mutex
	files      map[string][]byte // path → bytes, once deployed
	deployedAt time.Time
	hits       map[string]int
	redirect   map[string]string // path → Location

	inFlight, maxInFlight atomic.Int32
}

func newFakeSite(t *testing.T) *fakeSite {
	s := &fakeSite{t: t, files: map[string][]byte{}, hits: map[string]int{}, redirect: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *fakeSite) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	time.Sleep(s.latency)
	s.mu.Lock()
	s.hits[r.URL.Path]++
	b, deployed := s.files[r.URL.Path]
	loc := s.redirect[r.URL.Path]
	s.mu.Unlock()
	switch {
	case loc != "":
		http.Redirect(w, r, loc, http.StatusFound)
	case r.Method == http.MethodHead && s.refuseHead:
		w.Header().Set("Allow", "GET")
		http.Error(w, "no HEAD here", http.StatusMethodNotAllowed)
	case !deployed:
		http.NotFound(w, r)
	case s.ignoreRange:
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	default:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}
}

// deploy publishes the files of items, as a site build does.
func (s *fakeSite) deploy(items ...Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		s.files[urlPath(s.t, it.URL)] = bytes.Repeat([]byte{'x'}, int(it.Size))
	}
	s.deployedAt = time.Now()
}

func (s *fakeSite) hitsOn(it Item) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[urlPath(s.t, it.URL)]
}

func (s *fakeSite) deployTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deployedAt
}

func urlPath(t *testing.T, u string) string {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.URL.Path
}

// item is an upload of size bytes published on site under /media.
func (s *fakeSite) item(n int, size int64) Item {
	sum := sha256.Sum256([]byte(strconv.Itoa(n)))
	h := hex.EncodeToString(sum[:])
	return Item{SHA256: h, URL: s.srv.URL + "/media/" + h[:2] + "/" + h[2:4] + "/" + h + ".jpg", Size: size,
		Committed: time.Now().Add(-time.Minute)}
}

// event is one OnLive call.
type event struct {
	item Item
	d    time.Duration
	at   time.Time
}

// options are quick Options for tests against s: polls every few tens
// of milliseconds, OnLive reported on the returned channel.
func (s *fakeSite) options(t *testing.T, state string) (Options, chan event) {
	events := make(chan event, 100)
	return Options{
		StateFile:  state,
		Allowed:    []string{s.srv.URL + "/media"},
		Timeout:    20 * time.Second,
		FirstDelay: 20 * time.Millisecond,
		MaxDelay:   80 * time.Millisecond,
		Client:     s.srv.Client(),
		OnLive:     func(it Item, d time.Duration) { events <- event{it, d, time.Now()} },
	}, events
}

func newChecker(t *testing.T, opts Options) *Checker {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// waitEvents takes n OnLive events, failing after a generous time for a
// loaded machine.
func waitEvents(t *testing.T, events chan event, n int) []event {
	t.Helper()
	var got []event
	timeout := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case e := <-events:
			got = append(got, e)
		case <-timeout:
			t.Fatalf("%d of %d uploads went live", len(got), n)
		}
	}
	return got
}

// waitFor polls cond until it holds, or fails.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestPublishedOnceAfterDeploy(t *testing.T) {
	site := newFakeSite(t)
	reg := prometheus.NewRegistry()
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	opts.Registerer = reg
	c := newChecker(t, opts)

	items := []Item{site.item(1, 1000), site.item(2, 2000), site.item(3, 1)}
	for _, it := range items {
		if err := c.Watch(it); err != nil {
			t.Fatal(err)
		}
		if err := c.Watch(it); err != nil { // a second watch is no second poll
			t.Fatal(err)
		}
	}
	waitFor(t, "polls before the deploy", func() bool { return site.hitsOn(items[2]) >= 2 })
	select {
	case e := <-events:
		t.Fatalf("%s live before the deploy", e.item.URL)
	default:
	}
	site.deploy(items...)

	got := waitEvents(t, events, len(items))
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.item.SHA256] {
			t.Errorf("%s published twice", e.item.URL)
		}
		seen[e.item.SHA256] = true
		if e.at.Before(site.deployTime()) {
			t.Errorf("%s published before the deploy", e.item.URL)
		}
		if e.d < time.Minute {
			t.Errorf("%s: %v from commit to live, want at least the minute since its commit", e.item.URL, e.d)
		}
		if !c.Live(e.item.SHA256) {
			t.Errorf("Live(%s) = false after OnLive", e.item.SHA256)
		}
	}
	time.Sleep(150 * time.Millisecond)
	select {
	case e := <-events:
		t.Fatalf("%s published again", e.item.URL)
	default:
	}
	if got := histogramCount(t, reg, "spano_publish_seconds"); got != uint64(len(items)) {
		t.Errorf("spano_publish_seconds counted %d, want %d", got, len(items))
	}
	st, err := Load(opts.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if !st.Live(it.SHA256) {
			t.Errorf("state file: %s not live", it.SHA256)
		}
	}
}

func TestGivesUpAfterTimeout(t *testing.T) {
	site := newFakeSite(t)
	reg := prometheus.NewRegistry()
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	opts.Registerer = reg
	opts.Timeout = 300 * time.Millisecond
	c := newChecker(t, opts)
	it := site.item(1, 10)
	start := time.Now()
	if err := c.Watch(it); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "giving up", func() bool { e, _ := c.Entry(it.SHA256); return e.Status == StatusGaveUp })
	if took := time.Since(start); took < opts.Timeout {
		t.Errorf("gave up after %v, before the timeout %v", took, opts.Timeout)
	}
	if site.hitsOn(it) < 2 {
		t.Errorf("polled %d times before giving up", site.hitsOn(it))
	}
	if got := counterValue(t, reg, "spano_live_gave_up_total"); got != 1 {
		t.Errorf("spano_live_gave_up_total = %v, want 1", got)
	}
	hits := site.hitsOn(it)
	time.Sleep(150 * time.Millisecond)
	if site.hitsOn(it) != hits {
		t.Error("still polling after giving up")
	}
	select {
	case e := <-events:
		t.Fatalf("%s published though never deployed", e.item.URL)
	default:
	}
	if st, err := Load(opts.StateFile); err != nil {
		t.Fatal(err)
	} else if e, _ := st.Entry(it.SHA256); e.Status != StatusGaveUp {
		t.Errorf("state file says %q", e.Status)
	}

	// Watched again (pushed again), it gets a new deadline and goes live.
	site.deploy(it)
	if err := c.Watch(it); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, events, 1)
}

func TestRestartResumesPending(t *testing.T) {
	site := newFakeSite(t)
	state := filepath.Join(t.TempDir(), "live.json")
	opts, _ := site.options(t, state)
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	pending := []Item{site.item(1, 100), site.item(2, 200)}
	done := site.item(3, 300)
	for _, it := range pending {
		if err := c.Watch(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MarkLive(done); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a poll of each", func() bool { return site.hitsOn(pending[0]) > 0 && site.hitsOn(pending[1]) > 0 })
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(site.item(4, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: %v, want ErrClosed", err)
	}
	st, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range pending {
		if e, _ := st.Entry(it.SHA256); e.Status != StatusPending || !e.Committed.Equal(it.Committed) {
			t.Errorf("after Close %s is %q committed %v", it.SHA256, e.Status, e.Committed)
		}
	}
	if !st.Live(done.SHA256) {
		t.Error("the upload marked live is not live in the state file")
	}

	site.deploy(append(pending, done)...)
	opts2, events := site.options(t, state)
	newChecker(t, opts2)
	got := waitEvents(t, events, len(pending))
	for _, e := range got {
		if e.item.SHA256 == done.SHA256 {
			t.Error("the upload live before the restart was published again")
		}
	}
	if n := site.hitsOn(done); n != 0 {
		t.Errorf("the live upload was polled %d times", n)
	}
}

func TestMarkLiveAndForget(t *testing.T) {
	site := newFakeSite(t)
	reg := prometheus.NewRegistry()
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	opts.Registerer = reg
	now := time.Date(2026, 12, 2, 10, 0, 5, 0, time.UTC)
	opts.Now = func() time.Time { return now }
	c := newChecker(t, opts)
	it := site.item(1, 10)
	it.Committed = now.Add(-5 * time.Second)
	for range 2 {
		if err := c.MarkLive(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Watch(it); err != nil {
		t.Fatal(err)
	}
	e := waitEvents(t, events, 1)[0]
	if e.d != 5*time.Second {
		t.Errorf("commit to live %v, want 5s", e.d)
	}
	time.Sleep(100 * time.Millisecond)
	if len(events) > 0 || site.hitsOn(it) > 0 {
		t.Errorf("marked live, yet %d more events and %d polls", len(events), site.hitsOn(it))
	}
	if got := histogramCount(t, reg, "spano_publish_seconds"); got != 1 {
		t.Errorf("spano_publish_seconds counted %d, want 1", got)
	}

	pending := site.item(2, 10)
	if err := c.Watch(pending); err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{it.SHA256, pending.SHA256} {
		if err := c.Forget(sha); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Load(opts.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Entries()); n != 0 {
		t.Errorf("%d uploads in the state after Forget", n)
	}
}

func TestNewAndWatchRefuse(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "live.json")
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"no state file", Options{Allowed: []string{"https://example.com"}}},
		{"no prefix", Options{StateFile: state}},
		{"relative prefix", Options{StateFile: state, Allowed: []string{"/media"}}},
		{"prefix with a query", Options{StateFile: state, Allowed: []string{"https://example.com/?a=b"}}},
		{"ftp prefix", Options{StateFile: state, Allowed: []string{"ftp://example.com/"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := New(tt.opts); err == nil {
				c.Close(context.Background())
				t.Fatal("New succeeded")
			}
		})
	}

	c := newChecker(t, Options{StateFile: state, Allowed: []string{"https://example.com/"}})
	good := Item{SHA256: hex.EncodeToString(make([]byte, 32)), URL: "https://example.com/media/a.jpg", Size: 1}
	for _, tt := range []struct {
		name string
		edit func(*Item)
	}{
		{"short hash", func(it *Item) { it.SHA256 = "abc" }},
		{"upper-case hash", func(it *Item) { it.SHA256 = "AB" + good.SHA256[2:] }},
		{"not hex", func(it *Item) { it.SHA256 = "zz" + good.SHA256[2:] }},
		{"no size", func(it *Item) { it.Size = 0 }},
		{"no url", func(it *Item) { it.URL = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			it := good
			tt.edit(&it)
			if err := c.Watch(it); err == nil {
				t.Error("Watch accepted it")
			}
			if err := c.MarkLive(it); err == nil {
				t.Error("MarkLive accepted it")
			}
		})
	}
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func counterValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestResumePastDeadline: an upload whose deadline passed while spano
// was down gets one last poll at start, then is given up.
func TestResumePastDeadline(t *testing.T) {
	for _, deployed := range []bool{true, false} {
		t.Run("deployed="+strconv.FormatBool(deployed), func(t *testing.T) {
			site := newFakeSite(t)
			state := filepath.Join(t.TempDir(), "live.json")
			opts, events := site.options(t, state)
			opts.Timeout = time.Hour
			opts.FirstDelay = time.Hour // the poll must come from the passed deadline, not the delay
			then := time.Now().Add(-2 * time.Hour)
			opts.Now = func() time.Time { return then }
			it := site.item(1, 10)
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Watch(it); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if deployed {
				site.deploy(it)
			}
			opts.Now = time.Now
			c = newChecker(t, opts)
			if deployed {
				waitEvents(t, events, 1)
				return
			}
			waitFor(t, "giving up", func() bool { e, _ := c.Entry(it.SHA256); return e.Status == StatusGaveUp })
			if n := site.hitsOn(it); n != 1 {
				t.Errorf("%d polls after the deadline, want the one last", n)
			}
		})
	}
}
