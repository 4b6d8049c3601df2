package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// orderServer records the events it accepted, in arrival order; the first
// attempt at every third event fails and every event is a little slow, so
// an out-of-order or retried delivery would show.
type orderServer struct {
	mu       sync.Mutex
	attempts map[string]int
	accepted []string
}

func (s *orderServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var ev Event
	body, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(body, &ev); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	key := ev.Event + " " + ev.SHA256
	s.mu.Lock()
	s.attempts[key]++
	fail := s.attempts[key] == 1 && len(s.attempts)%3 == 0
	if !fail {
		s.accepted = append(s.accepted, key)
	}
	s.mu.Unlock()
	time.Sleep(time.Duration(len(key)%3) * time.Millisecond)
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func TestEventsInOrder(t *testing.T) {
	servers := []*orderServer{{attempts: map[string]int{}}, {attempts: map[string]int{}}}
	var hooks []Hook
	for i, s := range servers {
		srv := httptest.NewServer(s)
		defer srv.Close()
		hooks = append(hooks, Hook{Name: fmt.Sprintf("web%d", i), Events: []string{EventStored, EventPushed}, URL: srv.URL})
	}
	logFile := filepath.Join(t.TempDir(), "events")
	hooks = append(hooks, Hook{
		Name: "cmd", Events: []string{EventStored, EventPushed},
		Command: []string{"sh", "-c", `echo "$SPANO_EVENT $SPANO_SHA256" >> "$0"`, logFile},
	})
	r, _, _ := testRunner(t, hooks, Options{Concurrency: 2, Env: []string{"PATH=" + os.Getenv("PATH")}})

	// Uploads are stored one by one and pushed in batches, as a group
	// commit would: stored 0 1 2, pushed 0 1 2, stored 3 …
	var want []string
	for batch := range 5 {
		for _, ev := range []string{EventStored, EventPushed} {
			for i := range 4 {
				sha := fmt.Sprintf("%x", (batch*4+i)*977)
				r.Notify(Event{Event: ev, SHA256: sha})
				want = append(want, ev+" "+sha)
			}
		}
	}
	closeRunner(t, r)

	for i, s := range servers {
		if diff := cmp.Diff(s.accepted, want); diff != "" {
			t.Errorf("web%d order (-got +want):\n%s", i, diff)
		}
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(strings.TrimSpace(string(data)), "\n"), want); diff != "" {
		t.Errorf("cmd order (-got +want):\n%s", diff)
	}
}

// gate is a webhook that holds every request until released, telling the
// test when one has arrived.
type gate struct {
	arrived  chan string
	release  chan struct{}
	mu       sync.Mutex
	received []string
}

func newGate() *gate {
	return &gate{arrived: make(chan string, 100), release: make(chan struct{})}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var ev Event
	body, _ := io.ReadAll(req.Body)
	json.Unmarshal(body, &ev)
	g.arrived <- ev.SHA256
	select {
	case <-g.release:
	case <-req.Context().Done():
		return
	}
	g.mu.Lock()
	g.received = append(g.received, ev.SHA256)
	g.mu.Unlock()
}

func (g *gate) done() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.received...)
}

// waitArrival waits for the gate to see a request.
func waitArrival(t *testing.T, g *gate) string {
	t.Helper()
	select {
	case sha := <-g.arrived:
		return sha
	case <-time.After(3 * time.Second):
		t.Fatal("no request reached the webhook")
		return ""
	}
}

func TestQueueFullDrops(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	r, _, logs := testRunner(t, []Hook{{Name: "slow", Events: []string{EventStored}, URL: srv.URL}}, Options{QueueSize: 2})

	r.Notify(Event{Event: EventStored, SHA256: "e0"})
	waitArrival(t, g) // e0 is running, so the queue is empty
	start := time.Now()
	for i := 1; i <= 5; i++ {
		r.Notify(Event{Event: EventStored, SHA256: fmt.Sprintf("e%d", i)})
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("Notify blocked for %v on a full queue", elapsed)
	}
	if got, want := runs(r, "slow", EventStored, resultDropped), 3.0; got != want {
		t.Errorf("runs{result=dropped}: got %v, want %v", got, want)
	}
	if got, want := strings.Count(logs.String(), "queue full"), 3; got != want {
		t.Errorf("drop log lines: got %d, want %d\n%s", got, want, logs)
	}
	for _, sha := range []string{"e3", "e4", "e5"} {
		if !strings.Contains(logs.String(), "sha256="+sha) {
			t.Errorf("drop of %s not logged with its hash", sha)
		}
	}

	close(g.release)
	closeRunner(t, r)
	if diff := cmp.Diff(g.done(), []string{"e0", "e1", "e2"}); diff != "" {
		t.Errorf("delivered (-got +want):\n%s", diff)
	}
	if got, want := runs(r, "slow", EventStored, resultOK), 3.0; got != want {
		t.Errorf("runs{result=ok}: got %v, want %v", got, want)
	}
}

func TestCloseDrains(t *testing.T) {
	var delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(10 * time.Millisecond)
		delivered.Add(1)
	}))
	defer srv.Close()
	r, _, _ := testRunner(t, []Hook{{Name: "ci", Events: []string{EventPushed}, URL: srv.URL}}, Options{})
	for i := range 20 {
		r.Notify(Event{Event: EventPushed, SHA256: fmt.Sprint(i)})
	}
	closeRunner(t, r)
	if got, want := delivered.Load(), int64(20); got != want {
		t.Errorf("delivered before Close returned: got %d, want %d", got, want)
	}
	if got, want := runs(r, "ci", EventPushed, resultOK), 20.0; got != want {
		t.Errorf("runs{result=ok}: got %v, want %v", got, want)
	}

	// After Close, events are refused loudly, and Close stays safe to call.
	r.Notify(Event{Event: EventPushed, SHA256: "late"})
	if got, want := runs(r, "ci", EventPushed, resultDropped), 1.0; got != want {
		t.Errorf("runs{result=dropped} after Close: got %v, want %v", got, want)
	}
	closeRunner(t, r)
	if got, want := delivered.Load(), int64(20); got != want {
		t.Errorf("delivered after Close: got %d, want %d", got, want)
	}
}

func TestCloseGivesUp(t *testing.T) {
	g := newGate()
	srv := httptest.NewServer(g)
	defer srv.Close()
	r, _, logs := testRunner(t, []Hook{{Name: "stuck", Events: []string{EventDeleted}, URL: srv.URL}}, Options{})
	for i := range 3 {
		r.Notify(Event{Event: EventDeleted, SHA256: fmt.Sprint(i)})
	}
	waitArrival(t, g)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: got %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Close took %v with a 100ms deadline", elapsed)
	}
	// The running delivery was cancelled and the two queued ones dropped:
	// all three counted, none lost silently.
	if got, want := runs(r, "stuck", EventDeleted, resultDropped), 3.0; got != want {
		t.Errorf("runs{result=dropped}: got %v, want %v\n%s", got, want, logs)
	}
	if got := g.done(); len(got) != 0 {
		t.Errorf("delivered %v after Close gave up", got)
	}
}

func TestConcurrencyBound(t *testing.T) {
	var running, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
	}))
	defer srv.Close()
	var hooks []Hook
	for i := range 5 {
		hooks = append(hooks, Hook{Name: fmt.Sprintf("h%d", i), Events: []string{EventStored}, URL: srv.URL})
	}
	r, _, _ := testRunner(t, hooks, Options{Concurrency: 2})
	for range 3 {
		r.Notify(Event{Event: EventStored})
	}
	closeRunner(t, r)
	if got, want := peak.Load(), int64(2); got != want {
		t.Errorf("peak concurrent hooks: got %d, want %d", got, want)
	}
	for _, h := range hooks {
		if got, want := runs(r, h.Name, EventStored, resultOK), 3.0; got != want {
			t.Errorf("%s runs{result=ok}: got %v, want %v", h.Name, got, want)
		}
	}
}

func TestNotifyRejectsUpload(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	r, _, logs := testRunner(t, []Hook{{
		Name: "h", Events: []string{EventUpload, EventStored}, Command: []string{"touch", count},
	}}, Options{Env: []string{"PATH=" + os.Getenv("PATH")}})
	r.Notify(Event{Event: EventUpload})
	r.Notify(Event{Event: "bogus"})
	closeRunner(t, r)
	if _, err := os.Stat(count); err == nil {
		t.Errorf("Notify ran a hook for a non post-event")
	}
	if got, want := strings.Count(logs.String(), "not a post-event"), 2; got != want {
		t.Errorf("error log lines: got %d, want %d\n%s", got, want, logs)
	}
}
