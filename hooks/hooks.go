// Package hooks runs the site owner's hooks on upload events: commands
// (argv, no shell) and webhooks (signed JSON POSTs).
//
// Hooks subscribed to "upload" run synchronously before the commit and may
// veto it (Runner.Veto). Hooks subscribed to the post-events (stored,
// pushed, push_failed, deleted) run in the background (Runner.Notify) so
// they never delay an HTTP response. Each hook has its own FIFO queue and a
// single worker, so one hook sees the events of an upload in the order they
// were notified (stored before pushed) even while a global semaphore bounds
// how many hooks run at once. An event is never lost silently: a full queue,
// a failed hook or a shutdown is logged and counted in
// spano_hook_runs_total.
package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"spano/record"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Event names. "upload" is the only one that can veto.
const (
	EventUpload     = "upload"
	EventStored     = "stored"
	EventPushed     = "pushed"
	EventPushFailed = "push_failed"
	EventPublished  = "published" // the site serves the file (the live check)
	EventDeleted    = "deleted"
)

// Events lists the hook events in the order they happen to an upload.
func Events() []string {
	return []string{EventUpload, EventStored, EventPushed, EventPushFailed, EventPublished, EventDeleted}
}

// Defaults applied by New where Hook or Options leave a value zero.
const (
	DefaultConcurrency = 4
	DefaultQueueSize   = 1000
	DefaultRetries     = 5
)

// Default timeouts of one hook run. An upload hook may scan the file
// (a virus scan of a large video), so it gets longer.
const (
	DefaultUploadTimeout = 30 * time.Second
	DefaultEventTimeout  = 10 * time.Second
)

// DefaultTimeout is the timeout of a hook subscribed to events that sets
// none: the one owner of that default, for the config file and New alike.
func DefaultTimeout(events []string) time.Duration {
	if slices.Contains(events, EventUpload) {
		return DefaultUploadTimeout
	}
	return DefaultEventTimeout
}

// postEvents are the events Notify accepts; upload goes through Veto.
var postEvents = map[string]bool{
	EventStored: true, EventPushed: true, EventPushFailed: true, EventPublished: true, EventDeleted: true,
}

// ErrInvalidHook reports a hook definition New refuses; the wrapped message
// names the hook and the field.
var ErrInvalidHook = errors.New("invalid hook")

// Hook is one configured hook: exactly one of Command and URL is set.
type Hook struct {
	Name    string
	Events  []string // upload, stored, pushed, push_failed, deleted
	Command []string // argv, run without a shell
	URL     string   // http:// or https:// webhook
	// Secret signs webhook bodies: X-Spano-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>.
	Secret string
	// Timeout bounds one run (one attempt for webhooks); 0 means
	// DefaultTimeout(Events).
	Timeout time.Duration
}

// Event is what a hook receives: as JSON on stdin or in a webhook body, and
// partly as SPANO_* environment variables for commands.
type Event struct {
	Event    string    `json:"event"`
	Time     time.Time `json:"time"`
	URL      string    `json:"url,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	Path     string    `json:"path,omitempty"` // repository path of the original
	Type     string    `json:"type,omitempty"`
	Size     int64     `json:"size,omitempty"`
	Commit   string    `json:"commit,omitempty"`
	Filename string    `json:"filename,omitempty"`
	Client   string    `json:"client,omitempty"`
	Error    string    `json:"error,omitempty"` // push_failed: a description safe to hand to hooks
	// File is the spooled upload, passed to upload hooks as SPANO_FILE. It is
	// a local path, so it never leaves the machine in a webhook body.
	File string `json:"-"`
}

// Options are the Runner's dependencies and limits. The library never reads
// the process environment or config itself: cmd passes them here.
type Options struct {
	Logger *slog.Logger // nil → discard
	// HTTPClient sends webhooks; nil → a client with no global timeout, since
	// per-hook timeouts apply to each attempt.
	HTTPClient *http.Client
	// Concurrency bounds the post-event hooks running at once; 0 → DefaultConcurrency.
	// Veto hooks are not counted: they run on the caller's goroutine and must
	// not wait behind slow notifications.
	Concurrency int
	// QueueSize bounds the events waiting for each hook; 0 → DefaultQueueSize.
	// A queue per hook keeps one stuck hook from starving the others.
	QueueSize  int
	Registerer prometheus.Registerer // nil → metrics are kept but not exported
	// Env is the base environment of commands (cmd passes os.Environ()); the
	// SPANO_* event variables are added on top.
	Env []string
	// Backoff is the wait after the given number of failed webhook attempts
	// (1, 2, …); nil → exponential from 500ms with jitter, capped at 30s.
	Backoff func(attempt int) time.Duration
	// Retries is the number of attempts for a post-event webhook; 0 → DefaultRetries.
	// Commands are run once: they may not be idempotent.
	Retries int
	Now     func() time.Time // fills Event.Time when zero; nil → time.Now
}

// Runner runs hooks. It is safe for concurrent use.
type Runner struct {
	hooks   []*hook
	log     *slog.Logger
	client  *http.Client
	env     []string
	backoff func(int) time.Duration
	retries int
	now     func() time.Time
	metrics *metrics
	sem     chan struct{}
	// waitDelay bounds the wait for a command's output pipes after it
	// exited; a field so tests need not wait the full default.
	waitDelay time.Duration

	// ctx is cancelled when Close gives up waiting, aborting running hooks.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.RWMutex // guards closed against sends on the queues
	closed bool
	wg     sync.WaitGroup
	done   chan struct{} // closed once every worker has returned
}

// hook is a validated Hook with its subscriptions and, if it takes
// post-events, its queue.
type hook struct {
	Hook
	events map[string]bool
	queue  chan *delivery // nil for hooks subscribed to upload only
}

// delivery is one queued post-event with its JSON body, encoded once for
// all hooks.
type delivery struct {
	ev   Event
	body []byte
}

// New validates hooks and starts one worker per hook that takes
// post-events. Call Close to stop them.
func New(hooks []Hook, opts Options) (*Runner, error) {
	r := &Runner{
		log:     opts.Logger,
		client:  opts.HTTPClient,
		env:     withoutEventVars(opts.Env),
		backoff: opts.Backoff,
		retries: opts.Retries,
		now:     opts.Now,
		done:    make(chan struct{}),

		waitDelay: defaultWaitDelay,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("system", "hooks")
	if r.client == nil {
		r.client = &http.Client{}
	}
	if r.backoff == nil {
		r.backoff = defaultBackoff
	}
	if r.retries <= 0 {
		r.retries = DefaultRetries
	}
	if r.now == nil {
		r.now = time.Now
	}
	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	queueSize := opts.QueueSize
	if queueSize <= 0 {
		queueSize = DefaultQueueSize
	}
	r.sem = make(chan struct{}, concurrency)

	names := make(map[string]bool)
	for i, h := range hooks {
		if err := validate(h); err != nil {
			return nil, fmt.Errorf("hooks[%d] %q: %w", i, h.Name, err)
		}
		if names[h.Name] {
			return nil, fmt.Errorf("hooks[%d] %q: duplicate name: %w", i, h.Name, ErrInvalidHook)
		}
		names[h.Name] = true
		hk := &hook{Hook: h, events: make(map[string]bool)}
		hk.Command = append([]string(nil), h.Command...)
		if hk.Timeout == 0 {
			hk.Timeout = DefaultTimeout(h.Events)
		}
		for _, e := range h.Events {
			hk.events[e] = true
			if postEvents[e] && hk.queue == nil {
				hk.queue = make(chan *delivery, queueSize)
			}
		}
		r.hooks = append(r.hooks, hk)
	}

	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("hooks metrics: %w", err)
	}
	r.metrics = m

	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, h := range r.hooks {
		if h.queue != nil {
			r.wg.Add(1)
			go r.worker(h)
		}
	}
	go func() {
		r.wg.Wait()
		close(r.done)
	}()
	return r, nil
}

// validate checks one hook; the error wraps ErrInvalidHook.
func validate(h Hook) error {
	if h.Name == "" {
		return fmt.Errorf("name is empty: %w", ErrInvalidHook)
	}
	if len(h.Events) == 0 {
		return fmt.Errorf("events is empty: %w", ErrInvalidHook)
	}
	for _, e := range h.Events {
		if e != EventUpload && !postEvents[e] {
			return fmt.Errorf("events: unknown event %q: %w", e, ErrInvalidHook)
		}
	}
	switch {
	case len(h.Command) > 0 && h.URL != "":
		return fmt.Errorf("both command and url set: %w", ErrInvalidHook)
	case len(h.Command) > 0:
		if h.Command[0] == "" {
			return fmt.Errorf("command: program is empty: %w", ErrInvalidHook)
		}
		if h.Secret != "" {
			return fmt.Errorf("secret is only for url hooks: %w", ErrInvalidHook)
		}
	case h.URL != "":
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL may hold a secret (chat webhooks do), so it is not echoed.
			return fmt.Errorf("url: not an absolute http(s) URL: %w", ErrInvalidHook)
		}
	default:
		return fmt.Errorf("neither command nor url set: %w", ErrInvalidHook)
	}
	if h.Timeout < 0 {
		return fmt.Errorf("timeout is negative: %w", ErrInvalidHook)
	}
	return nil
}

// encode fills the event time and returns the JSON hooks receive.
func (r *Runner) encode(ev *Event) ([]byte, error) {
	if ev.Time.IsZero() {
		ev.Time = r.now()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", ev.Event, err)
	}
	return body, nil
}

// defaultBackoff waits 500ms, 1s, 2s, … up to 30s, each with up to half of
// it as jitter so retries from many events do not arrive in lockstep.
func defaultBackoff(attempt int) time.Duration {
	const base, ceiling = 500 * time.Millisecond, 30 * time.Second
	d := ceiling
	if attempt < 16 {
		d = min(base<<max(attempt-1, 0), ceiling)
	}
	return d/2 + rand.N(d/2+1)
}

// EventOf is the event name about the upload rec, committed as commit
// (empty before the commit): the one translation of an upload's record
// into what hooks receive.
func EventOf(name string, rec record.Record, commit string, at time.Time) Event {
	return Event{
		Event: name, Time: at, URL: rec.URL, SHA256: rec.SHA256, Path: rec.Path,
		Type: rec.Type, Size: rec.Size, Commit: commit, Filename: rec.Filename, Client: rec.Client,
	}
}
