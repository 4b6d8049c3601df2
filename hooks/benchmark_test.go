package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkVetoCommand measures an upload hook that does nothing: the cost
// of fork/exec, the process group and the pipes added to every upload.
func BenchmarkVetoCommand(b *testing.B) {
	r, err := New([]Hook{{Name: "noop", Events: []string{EventUpload}, Command: []string{"/bin/true"}}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	ev := Event{SHA256: "ab", File: "/dev/null"}
	for b.Loop() {
		if err := r.Veto(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVetoWebhook measures a signed upload webhook to a local server.
func BenchmarkVetoWebhook(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	r, err := New([]Hook{{Name: "web", Events: []string{EventUpload}, URL: srv.URL, Secret: "s"}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	ev := Event{SHA256: "ab", URL: "https://example.com/media/ab/cd/abcd.jpg"}
	for b.Loop() {
		if err := r.Veto(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotify measures what an upload pays to queue a post-event for
// three hooks: encoding once and three channel sends. The receiver holds
// the first requests, so the workers do not compete for the CPU and the
// queues only fill.
func BenchmarkNotify(b *testing.B) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var hooks []Hook
	for _, name := range []string{"a", "b", "c"} {
		hooks = append(hooks, Hook{Name: name, Events: []string{EventPushed}, URL: srv.URL})
	}
	r, err := New(hooks, Options{QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ev := Event{Event: EventPushed, SHA256: "ab", Commit: "c0ffee", URL: "https://example.com/media/ab/cd/abcd.jpg"}
	for b.Loop() {
		r.Notify(ev)
	}
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // drop the backlog instead of delivering it
	r.Close(ctx)
}
