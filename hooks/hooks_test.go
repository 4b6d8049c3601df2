package hooks

import (
	"context"
	"errors"
	"log/slog"
	"spano/internal/safebuf"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fixedNow is the clock of every test Runner, so event times are known.
var fixedNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// testRunner builds a Runner with a fast backoff, a registry and a captured
// log, and closes it when the test ends. opts fields left zero get those.
func testRunner(t *testing.T, hooks []Hook, opts Options) (*Runner, *prometheus.Registry, *safebuf.Buffer) {
	t.Helper()
	logs := &safebuf.Buffer{}
	reg := prometheus.NewRegistry()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Registerer == nil {
		opts.Registerer = reg
	}
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	r, err := New(hooks, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r, reg, logs
}

// runs reads spano_hook_runs_total for one label set.
func runs(r *Runner, hook, event, result string) float64 {
	return testutil.ToFloat64(r.metrics.runs.WithLabelValues(hook, event, result))
}

// closeRunner drains r, failing the test if it takes longer than a second.
func closeRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestNewRejectsInvalidHooks(t *testing.T) {
	ok := Hook{Name: "ok", Events: []string{EventStored}, Command: []string{"true"}}
	tests := []struct {
		name  string
		hooks []Hook
	}{
		{"empty name", []Hook{{Events: []string{EventStored}, Command: []string{"true"}}}},
		{"no events", []Hook{{Name: "h", Command: []string{"true"}}}},
		{"unknown event", []Hook{{Name: "h", Events: []string{"stored", "uploaded"}, Command: []string{"true"}}}},
		{"command and url", []Hook{{Name: "h", Events: []string{EventStored}, Command: []string{"true"}, URL: "https://ci.example/"}}},
		{"neither command nor url", []Hook{{Name: "h", Events: []string{EventStored}}}},
		{"empty program", []Hook{{Name: "h", Events: []string{EventStored}, Command: []string{"", "x"}}}},
		{"secret on command", []Hook{{Name: "h", Events: []string{EventStored}, Command: []string{"true"}, Secret: "s"}}},
		{"ftp url", []Hook{{Name: "h", Events: []string{EventStored}, URL: "ftp://ci.example/"}}},
		{"relative url", []Hook{{Name: "h", Events: []string{EventStored}, URL: "/hooks/spano"}}},
		{"url without host", []Hook{{Name: "h", Events: []string{EventStored}, URL: "https:///x"}}},
		{"negative timeout", []Hook{{Name: "h", Events: []string{EventStored}, Command: []string{"true"}, Timeout: -time.Second}}},
		{"duplicate name", []Hook{ok, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.hooks, Options{})
			if !errors.Is(err, ErrInvalidHook) {
				if r != nil {
					r.Close(context.Background())
				}
				t.Fatalf("New: got %v, want ErrInvalidHook", err)
			}
		})
	}
}

func TestNewErrorHidesURL(t *testing.T) {
	_, err := New([]Hook{{Name: "chat", Events: []string{EventPushed}, URL: "ftp://hooks.example/T0/s3cr3t-token"}}, Options{})
	if !errors.Is(err, ErrInvalidHook) {
		t.Fatalf("New: got %v, want ErrInvalidHook", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q shows the URL, which may hold a credential", err)
	}
	if !strings.Contains(err.Error(), `"chat"`) {
		t.Errorf("error %q does not name the hook", err)
	}
}

func TestNewAcceptsValidHooks(t *testing.T) {
	r, _, _ := testRunner(t, []Hook{
		{Name: "scan", Events: []string{EventUpload}, Command: []string{"true"}},
		{Name: "ci", Events: []string{EventPushed, EventPushFailed}, URL: "https://ci.example/hook", Secret: "s", Timeout: time.Second},
		{Name: "log", Events: []string{EventStored, EventDeleted}, Command: []string{"true"}},
	}, Options{})
	for _, h := range r.hooks {
		if got, want := h.queue != nil, h.Name != "scan"; got != want {
			t.Errorf("hook %s has a queue: got %v, want %v", h.Name, got, want)
		}
	}
	if got, want := r.hooks[0].Timeout, DefaultUploadTimeout; got != want {
		t.Errorf("default timeout of an upload hook: got %v, want %v", got, want)
	}
	if got, want := r.hooks[2].Timeout, DefaultEventTimeout; got != want {
		t.Errorf("default timeout of an event hook: got %v, want %v", got, want)
	}
	if got, want := cap(r.sem), DefaultConcurrency; got != want {
		t.Errorf("concurrency: got %d, want %d", got, want)
	}
}

func TestFirstLine(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"only blank lines", "\n  \n\t\n", ""},
		{"first of several", "infected\nsummary\n", "infected"},
		{"skips leading blank lines and trims", "\n\n  bad file \r\nmore", "bad file"},
		{"drops control characters", "bad\x1b[31m red\a\x00", "bad[31m red"},
		{"drops invalid utf-8", "caf\xff\xfeé", "café"},
		{"caps long lines", long, strings.Repeat("x", maxMessage) + "…"},
		{"caps by runes not bytes", strings.Repeat("é", 250), strings.Repeat("é", maxMessage) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := firstLine([]byte(tt.in)), tt.want; got != want {
				t.Errorf("firstLine(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 250 * time.Millisecond, 500 * time.Millisecond},
		{2, 500 * time.Millisecond, time.Second},
		{3, time.Second, 2 * time.Second},
		{7, 15 * time.Second, 30 * time.Second},
		{100, 15 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if got := defaultBackoff(tt.attempt); got < tt.min || got > tt.max {
				t.Fatalf("defaultBackoff(%d) = %v, want within [%v, %v]", tt.attempt, got, tt.min, tt.max)
			}
		}
	}
}

func TestMetricsExported(t *testing.T) {
	hooks := []Hook{{Name: "scan", Events: []string{EventUpload}, Command: []string{"true"}}}
	r, reg, _ := testRunner(t, hooks, Options{})
	if err := r.Veto(context.Background(), Event{SHA256: "ab"}); err != nil {
		t.Fatalf("Veto: %v", err)
	}
	n, err := testutil.GatherAndCount(reg, "spano_hook_runs_total", "spano_hook_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, 2; got != want {
		t.Errorf("exported series: got %d, want %d", got, want)
	}

	// A second Runner on the same registry (a reload) shares the counters
	// instead of failing to register.
	r2, err := New(hooks, Options{Registerer: reg})
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	defer r2.Close(context.Background())
	if err := r2.Veto(context.Background(), Event{SHA256: "ab"}); err != nil {
		t.Fatalf("Veto: %v", err)
	}
	if got, want := runs(r, "scan", EventUpload, resultOK), 2.0; got != want {
		t.Errorf("runs after two Runners: got %v, want %v", got, want)
	}
}
