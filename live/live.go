// Package live knows when an upload is live: after the push that carried
// it, a Checker polls the upload's published URL until the site serves
// it (200 with the file's size), then reports it once through
// Options.OnLive and the histogram spano_publish_seconds, from the commit
// to live: the site's deploy time.
//
// Polls start a few seconds after the watch and back off to a minute; at
// most a few are in flight; each has its own timeout; redirects are
// followed only within the allowed prefixes, and nothing but URLs under
// them is ever polled. After Options.Timeout an upload is given up and
// logged.
//
// Which uploads are pending (with their commit time and deadline), live
// or given up is kept in a state file, rewritten atomically (temp file,
// fsync, rename) at start, at Close and every 1024 changes, and a journal
// beside it (<state>.journal) to which each change is appended and
// fsynced, so a change costs the same with ten thousand uploads as with
// ten. A Checker made again on the same file resumes polling only the
// uploads not yet live, and a reader (spano log) can ask with Load
// whether an upload is live.
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spano/internal/promreg"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout        = 30 * time.Minute
	DefaultMaxInFlight    = 4
	DefaultRequestTimeout = 10 * time.Second
	DefaultFirstDelay     = 5 * time.Second
	DefaultMaxDelay       = time.Minute
)

// Errors Watch returns, wrapped.
var (
	ErrNotAllowed = errors.New("not under an allowed prefix")
	ErrClosed     = errors.New("live check closed")
)

// Options configure a Checker. Zero values take the defaults above.
type Options struct {
	StateFile      string   // where pending and live uploads are kept, e.g. <data_dir>/live.json
	Allowed        []string // URL prefixes that may be polled: site.url, storage.s3.public_url
	Timeout        time.Duration
	MaxInFlight    int           // polls in flight at once
	RequestTimeout time.Duration // for each poll
	FirstDelay     time.Duration // from the watch to the first poll
	MaxDelay       time.Duration // the backoff doubles up to this

	Client     *http.Client     // nil: http.DefaultClient's transport; its CheckRedirect is replaced
	Now        func() time.Time // nil: time.Now
	Logger     *slog.Logger     // nil: discard
	Registerer prometheus.Registerer

	// OnLive is called once per upload when it is found live (or marked
	// so), with the time from its commit to then. It runs on the poll's
	// goroutine (MarkLive's caller's for MarkLive) and should not block.
	OnLive func(Item, time.Duration)
}

// Item is an upload to watch.
type Item struct {
	SHA256    string    `json:"sha256"`
	URL       string    `json:"url"`
	Size      int64     `json:"size"`
	Committed time.Time `json:"committed"`
}

// Checker polls uploads' URLs until they are live. Its methods are safe
// for concurrent use.
type Checker struct {
	opts    Options
	log     *slog.Logger
	allowed []prefix
	client  *http.Client
	sem     chan struct{}
	publish prometheus.Histogram
	gaveUp  prometheus.Counter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*Entry
	polls   map[string]context.CancelFunc
	closed  bool

	saveMu       sync.Mutex // orders writes of the state file and journal
	journal      *os.File
	journalLines int
}

// New makes a Checker from opts, loads its state file and resumes
// polling every upload still pending in it.
func New(opts Options) (*Checker, error) {
	opts = withDefaults(opts)
	if opts.StateFile == "" {
		return nil, errors.New("live: no state file")
	}
	allowed, err := parsePrefixes(opts.Allowed)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	st, err := Load(opts.StateFile)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	publish, gaveUp, err := metrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("live: metrics: %w", err)
	}
	journal, err := openJournal(opts.StateFile)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{
		opts: opts, allowed: allowed, sem: make(chan struct{}, opts.MaxInFlight),
		log:     opts.Logger.With("system", "live"),
		publish: publish, gaveUp: gaveUp,
		ctx: ctx, cancel: cancel,
		entries: st.entries, polls: map[string]context.CancelFunc{},
		journal: journal,
	}
	c.client = c.newClient(opts.Client)
	// A journal left by a run that did not close is folded into the
	// state file; otherwise the state file is already whole.
	if info, err := journal.Stat(); err != nil || info.Size() > 0 {
		if err == nil {
			err = c.compact()
		}
		if err != nil {
			journal.Close()
			cancel()
			return nil, fmt.Errorf("live: %w", err)
		}
	}
	resumed := 0
	for _, e := range c.entries {
		if e.Status == StatusPending {
			c.startPoll(e)
			resumed++
		}
	}
	if resumed > 0 {
		c.log.Info("resumed live checks", "pending", resumed)
	}
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = max(DefaultMaxDelay, o.FirstDelay)
	}
	o.MaxDelay = max(o.MaxDelay, o.FirstDelay)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// metrics makes, and registers when reg is set, the checker's
// collectors; a Checker made again on the same registry shares them.
func metrics(reg prometheus.Registerer) (prometheus.Histogram, prometheus.Counter, error) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "spano_publish_seconds",
		Help:    "Time from an upload's commit until its published URL served it: the site's deploy time.",
		Buckets: []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
	})
	g := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spano_live_gave_up_total",
		Help: "Uploads whose published URL did not serve them within site.live_timeout.",
	})
	if reg == nil {
		return h, g, nil
	}
	h, err := promreg.Register(reg, h)
	if err != nil {
		return nil, nil, err
	}
	g, err = promreg.Register(reg, g)
	return h, g, err
}

// Watch starts polling it.URL until it serves it.Size bytes. Watching an
// upload already pending or live does nothing; one given up is polled
// again with a new deadline. The pending upload is in the state file when
// Watch returns.
func (c *Checker) Watch(it Item) error {
	if err := checkItem(it); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if err := c.allowedURL(it.URL); err != nil {
		return fmt.Errorf("watch %s: %w", it.URL, err)
	}
	now := c.opts.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("watch %s: %w", it.URL, ErrClosed)
	}
	if e, ok := c.entries[it.SHA256]; ok && e.Status != StatusGaveUp {
		c.mu.Unlock()
		return nil
	}
	e := &Entry{Item: it, Status: StatusPending, Watched: now, Deadline: now.Add(c.opts.Timeout)}
	c.entries[it.SHA256] = e
	c.startPoll(e)
	c.mu.Unlock()
	if err := c.record(it.SHA256); err != nil {
		return fmt.Errorf("watch %s: %w", it.URL, err)
	}
	return nil
}

// MarkLive records it as live now, without polling: for an upload spano
// serves itself (media.serve with site.url its own address), live once
// committed. It calls OnLive unless the upload was live already.
func (c *Checker) MarkLive(it Item) error {
	if err := checkItem(it); err != nil {
		return fmt.Errorf("mark live: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("mark live %s: %w", it.URL, ErrClosed)
	}
	e, ok := c.entries[it.SHA256]
	if !ok {
		now := c.opts.Now()
		e = &Entry{Item: it, Status: StatusPending, Watched: now, Deadline: now}
		c.entries[it.SHA256] = e
	}
	if cancel := c.polls[it.SHA256]; cancel != nil {
		cancel()
	}
	c.mu.Unlock()
	return c.becameLive(e)
}

// Forget stops watching an upload and drops it from the state: for a
// deleted upload.
func (c *Checker) Forget(sha256 string) error {
	c.mu.Lock()
	if cancel := c.polls[sha256]; cancel != nil {
		cancel()
		delete(c.polls, sha256)
	}
	_, ok := c.entries[sha256]
	delete(c.entries, sha256)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return c.record(sha256)
}

// Live reports whether the upload with this hash was found live.
func (c *Checker) Live(sha256 string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sha256]
	return ok && e.Status == StatusLive
}

// Entry returns what the checker knows of an upload.
func (c *Checker) Entry(sha256 string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sha256]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Close stops every poll, waits for them (or for ctx) and writes the
// state a last time; pending uploads stay pending for the next Checker.
func (c *Checker) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close live check: %w", ctx.Err())
	}
	err := c.compact()
	if cerr := c.journal.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close live check: %w", err)
	}
	return nil
}

// becameLive marks e live, saves, and reports it once.
func (c *Checker) becameLive(e *Entry) error {
	now := c.opts.Now()
	c.mu.Lock()
	if e.Status == StatusLive || c.entries[e.SHA256] != e {
		c.mu.Unlock()
		return nil
	}
	e.Status, e.LiveAt = StatusLive, now
	it := e.Item
	since := e.Committed
	if since.IsZero() {
		since = e.Watched
	}
	c.mu.Unlock()
	err := c.record(it.SHA256)
	d := max(now.Sub(since), 0)
	c.publish.Observe(d.Seconds())
	c.log.Info("upload is live", "url", it.URL, "sha256", it.SHA256, "after", d.Round(time.Millisecond))
	if c.opts.OnLive != nil {
		c.opts.OnLive(it, d)
	}
	return err
}

// giveUp marks e given up after its deadline passed.
func (c *Checker) giveUp(e *Entry, last string) {
	c.mu.Lock()
	if e.Status != StatusPending || c.entries[e.SHA256] != e {
		c.mu.Unlock()
		return
	}
	e.Status = StatusGaveUp
	c.mu.Unlock()
	c.gaveUp.Inc()
	c.log.Warn("gave up waiting for the site to serve an upload", "url", e.URL, "sha256", e.SHA256,
		"waited", e.Deadline.Sub(e.Watched), "last", last)
	if err := c.record(e.SHA256); err != nil {
		c.log.Error("save live state", "err", err)
	}
}
