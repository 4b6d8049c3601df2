// Package repo keeps spano's own bare clone of the site repository: it
// commits uploads with git plumbing (streamed blobs, edited trees, a commit,
// a checked ref update), pushes them without ever forcing, and re-applies
// its unpushed commits when the remote moved.
//
// One goroutine, the writer, owns the branch: every commit, delete and
// re-apply runs on it, one after another, so no two updates of the branch
// can race. A second goroutine, the pusher, owns the network and the
// remote-tracking ref. Callers talk to both through the small API of Repo.
// Now and then a third runs git gc --auto beside them (see housekeeper).
//
// The local branch being ahead of the remote-tracking ref is the push
// queue: it survives restarts, and a push carries every commit made since
// the last one, so a burst of uploads becomes one push.
package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// PushMode says when commits reach the remote.
type PushMode string

// The push modes of the repo.push config key.
const (
	PushSync  PushMode = "sync"  // Commit returns after the remote accepted the commit
	PushAsync PushMode = "async" // Commit returns after the local commit; pushed in the background
	PushOff   PushMode = "off"   // never push
)

// Errors returned by Repo. The server maps them to HTTP statuses.
var (
	// ErrNotFound: no such path on the branch.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a path is taken by other bytes or by a folder; spano
	// never overwrites.
	ErrConflict = errors.New("path taken by other content")
	// ErrBadPath: a path that is not a clean, relative, slash-separated path.
	ErrBadPath = errors.New("bad path")
	// ErrPushFailed: the commit was made but the remote did not take it
	// (sync mode). It stays on the branch and is pushed later.
	ErrPushFailed = errors.New("push failed")
	// ErrClosed: the repository is closed.
	ErrClosed = errors.New("repository closed")
)

// largeObjectThreshold keeps go-git from reading bigger objects of a pack
// into memory; they are streamed instead.
const largeObjectThreshold = 1 << 20

// Options configure Open.
type Options struct {
	Path      string // spano's bare clone
	Remote    string // URL or path; "" = no remote, no push
	Branch    string
	Push      PushMode
	PushDelay time.Duration // async: wait this long after the last commit before pushing

	Username, Password    string // HTTPS basic auth; the password may be a token
	SSHKey, SSHKnownHosts string // SSH private key file and known_hosts file

	AuthorName, AuthorEmail string

	Logger *slog.Logger
	Now    func() time.Time
	// Notify, when set, is called after each commit, push, failed push
	// and fetch that brought foreign commits. It runs on the repository's
	// goroutines and must not block for long.
	Notify func(Notice)

	// ReadOnly opens the repository for reading only (spano log, fsck):
	// Commit fails, nothing is pushed, and nothing a killed run left
	// behind is cleaned up, since spano serve may be running on the same
	// repository.
	ReadOnly bool

	// PushAttempts bounds the push/fetch/re-apply rounds of one push;
	// 0 means 5.
	PushAttempts int
	// Backoff is the wait before retry n (1-based) after a failed push;
	// nil means exponential from 1s, capped at 1m, with jitter.
	Backoff func(n int) time.Duration

	// GCEvery is how many commits pass between two runs of git gc --auto
	// (when git is on the PATH; see housekeeper), which also runs at
	// Open. 0 means 100; negative turns housekeeping off.
	GCEvery int
}

// NoticeKind tells what a Notice reports.
type NoticeKind int

// Kinds of Notice.
const (
	NoticePushed     NoticeKind = iota + 1 // Commits reached the remote
	NoticePushFailed                       // a push round failed; Err says why; Commits are those it failed for the first time
	NoticeFetched                          // Commits arrived from the remote (made by someone else)
	NoticeCommitted                        // Commits were made here (called on the writer goroutine, before Commit returns)
)

// A Notice reports something the pusher did.
type Notice struct {
	Kind    NoticeKind
	Commits []CommitInfo // oldest first
	Err     error
	// Duration is how long the push took (NoticePushed, NoticePushFailed):
	// from the start of the push to the notice, including any fetch and
	// re-apply, so operators can watch the network side of an upload.
	Duration time.Duration
}

// CommitInfo describes one commit.
type CommitInfo struct {
	Hash    string
	Message Message
	Time    time.Time // author time
	// Changes lists the paths the commit added and deleted.
	Added, Deleted []string
}

// Blob is a file to add: Path in the repository, File on local disk.
type Blob struct {
	Path string
	File string
}

// Change is one commit's worth of work.
type Change struct {
	// Add holds the files to add. Add[0] is the original: when it already
	// exists on the branch with the same bytes, the change is a duplicate
	// and nothing is committed.
	Add []Blob
	// Delete holds paths to remove; a missing one fails with ErrNotFound.
	Delete  []string
	Message Message
}

// Result tells what Commit did.
type Result struct {
	// Commit is the new commit (as pushed, after any re-apply), or for a
	// duplicate the branch head that holds the file.
	Commit    string
	Duplicate bool
	// Pushed is true when the remote has the commit.
	Pushed bool
}

// Repo is the site repository. Its methods are safe for concurrent use.
type Repo struct {
	opts   Options
	log    *slog.Logger
	branch plumbing.ReferenceName
	track  plumbing.ReferenceName
	auth   transport.AuthMethod

	ops     chan func(*writer)
	stopped chan struct{} // closed when the writer goroutine ends
	closing sync.Once
	closed  chan struct{} // closed by Close: no new work
	quit    chan struct{} // closed by Close after the final push: the writer ends

	reader *reader

	pusher *pusher

	gc *housekeeper // nil: read-only, or housekeeping off

	// pending mirrors the writer's count of unpushed commits for Pending,
	// which must not wait behind a commit in progress.
	pending atomic.Int64
}

// Open opens the repository at opts.Path, cloning it from opts.Remote (in
// full) or initialising it when it does not exist, and starts the writer
// and, unless push is off, the pusher.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Push == "" {
		opts.Push = PushSync
	}
	if opts.Remote == "" || opts.ReadOnly {
		opts.Push = PushOff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PushAttempts <= 0 {
		opts.PushAttempts = 5
	}
	if opts.Backoff == nil {
		opts.Backoff = defaultBackoff
	}
	if opts.GCEvery == 0 {
		opts.GCEvery = defaultGCEvery
	}
	if opts.AuthorName == "" {
		opts.AuthorName = "spano"
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = "spano@localhost"
	}
	if !plumbing.NewBranchReferenceName(opts.Branch).IsBranch() || strings.ContainsAny(opts.Branch, " ~^:?*[\\") {
		return nil, fmt.Errorf("open repository: bad branch name %q", opts.Branch)
	}
	r := &Repo{
		opts:    opts,
		log:     opts.Logger,
		branch:  plumbing.NewBranchReferenceName(opts.Branch),
		track:   plumbing.NewRemoteReferenceName("origin", opts.Branch),
		ops:     make(chan func(*writer)),
		stopped: make(chan struct{}),
		closed:  make(chan struct{}),
		quit:    make(chan struct{}),
	}
	if opts.Remote != "" {
		auth, err := authMethod(opts)
		if err != nil {
			return nil, err
		}
		r.auth = auth
	}
	if err := r.ensure(ctx); err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := removeTempBlobs(opts.Path); err != nil {
			r.log.Warn("half-written objects of an earlier run left behind", "err", err)
		}
		if opts.GCEvery >= 0 {
			r.gc = newHousekeeper(opts.Path, r.log)
		}
	}

	w, err := newWriter(r)
	if err != nil {
		return nil, err
	}
	r.reader = &reader{st: r.newStorage()}
	if opts.Push != PushOff {
		r.pusher = newPusher(r)
	}
	go w.run()
	if r.pusher != nil {
		go r.pusher.run()
		if w.head != w.tracked {
			r.pusher.kick(true)
		}
	}
	if r.gc != nil {
		r.gc.run() // a clone from before, or from git, may be due
	}
	return r, nil
}

// newStorage opens a storage of the repository for one goroutine.
func (r *Repo) newStorage() *storage {
	var gen *atomic.Uint64
	if r.gc != nil {
		gen = &r.gc.gen
	}
	return openStorage(r.opts.Path, gen)
}

// ensure makes sure a bare repository with the branch's HEAD exists at
// the path: cloned from the remote when there is one, else new.
func (r *Repo) ensure(ctx context.Context) error {
	path := r.opts.Path
	if _, err := os.Stat(filepath.Join(path, "HEAD")); err == nil {
		return r.configure()
	} else if r.opts.ReadOnly {
		return fmt.Errorf("open repository %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	// Clone or init beside the final path, then rename, so that a crash
	// half-way leaves no half repository behind.
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".clone-")
	if err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)

	if r.opts.Remote != "" {
		r.log.Info("cloning site repository", "remote", redactURL(r.opts.Remote), "branch", r.opts.Branch, "path", path)
		_, err := git.PlainCloneContext(ctx, tmp, true, &git.CloneOptions{
			URL:           r.opts.Remote,
			Auth:          r.auth,
			ReferenceName: r.branch,
			SingleBranch:  true,
			Tags:          git.NoTags,
		})
		switch {
		case errors.Is(err, transport.ErrEmptyRemoteRepository):
			r.log.Info("remote is empty; starting the branch", "branch", r.opts.Branch)
			if err := os.RemoveAll(tmp); err != nil {
				return fmt.Errorf("create repository: %w", err)
			}
			if err := initBare(tmp, r.branch); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("clone %s (branch %s): %w", redactURL(r.opts.Remote), r.opts.Branch, err)
		}
	} else {
		if err := initBare(tmp, r.branch); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	return r.configure()
}

func initBare(path string, branch plumbing.ReferenceName) error {
	_, err := git.PlainInitWithOptions(path, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: branch},
	})
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	return nil
}

// configure records the remote in the repository's config, so that git
// commands run by a person on the clone see what spano sees.
func (r *Repo) configure() error {
	st := r.newStorage()
	defer st.Close()
	cfg, err := st.Config()
	if err != nil {
		return fmt.Errorf("read repository config: %w", err)
	}
	if !cfg.Core.IsBare {
		return fmt.Errorf("repository %s is not bare", r.opts.Path)
	}
	if r.opts.Remote == "" {
		return nil
	}
	want := &gitconfig.RemoteConfig{
		Name:  "origin",
		URLs:  []string{r.opts.Remote},
		Fetch: []gitconfig.RefSpec{gitconfig.RefSpec("+" + r.branch.String() + ":" + r.track.String())},
	}
	if old, ok := cfg.Remotes["origin"]; ok && len(old.URLs) == 1 && old.URLs[0] == r.opts.Remote {
		return nil
	}
	cfg.Remotes["origin"] = want
	if err := st.SetConfig(cfg); err != nil {
		return fmt.Errorf("write repository config: %w", err)
	}
	return nil
}

// Commit writes c's blobs into the object store and has the writer commit
// them. In sync mode it returns after the push that carried the commit;
// when that push failed it returns the Result with an error wrapping
// ErrPushFailed.
func (r *Repo) Commit(ctx context.Context, c Change) (Result, error) {
	if r.opts.ReadOnly {
		return Result{}, errors.New("commit: repository opened read-only")
	}
	if len(c.Add) == 0 && len(c.Delete) == 0 {
		return Result{}, errors.New("commit: empty change")
	}
	for _, p := range append(paths(c.Add), c.Delete...) {
		if !validPath(p) {
			return Result{}, fmt.Errorf("commit %q: %w", p, ErrBadPath)
		}
	}
	// A duplicate needs no blobs: ask the writer first, cheaply.
	if len(c.Add) > 0 {
		if res, ok, err := r.duplicate(ctx, c.Add[0].Path); err != nil || ok {
			return res, err
		}
	}
	// Blobs are written here, on the caller's goroutine, so that a large
	// upload does not hold up the writer. The object store is
	// content-addressed and a loose object appears by rename, so writing
	// the same blob twice at once is harmless.
	edits := make([]edit, 0, len(c.Add)+len(c.Delete))
	for _, b := range c.Add {
		h, err := r.writeBlob(ctx, b.File)
		if err != nil {
			return Result{}, fmt.Errorf("commit %s: %w", b.Path, err)
		}
		edits = append(edits, edit{path: b.Path, blob: h, mode: filemode.Regular})
	}
	for _, p := range c.Delete {
		edits = append(edits, edit{path: p})
	}

	type reply struct {
		res  Result
		wait <-chan outcome
		err  error
	}
	ch := make(chan reply, 1)
	err := r.do(ctx, func(w *writer) {
		res, wait, err := w.commit(edits, c.Message)
		ch <- reply{res, wait, err}
	})
	if err != nil {
		return Result{}, err
	}
	select {
	case rep := <-ch:
		if rep.err != nil {
			return Result{}, fmt.Errorf("commit: %w", rep.err)
		}
		return wait(ctx, rep.res, rep.wait)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func paths(bs []Blob) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Path
	}
	return out
}

// Duplicate reports whether path is already on the branch, with the
// Result an upload of it gets (Duplicate set), without writing anything.
// In sync mode, when the commit that added it is not pushed yet, it waits
// for that push, and fails with ErrPushFailed as Commit does.
func (r *Repo) Duplicate(ctx context.Context, path string) (Result, bool, error) {
	if !validPath(path) {
		return Result{}, false, fmt.Errorf("duplicate %q: %w", path, ErrBadPath)
	}
	return r.duplicate(ctx, path)
}

func (r *Repo) duplicate(ctx context.Context, path string) (Result, bool, error) {
	type reply struct {
		res  Result
		ok   bool
		wait <-chan outcome
		err  error
	}
	ch := make(chan reply, 1)
	if err := r.do(ctx, func(w *writer) {
		res, ok, wait, err := w.duplicate(path)
		ch <- reply{res, ok, wait, err}
	}); err != nil {
		return Result{}, false, err
	}
	select {
	case rep := <-ch:
		if rep.err != nil || !rep.ok {
			return rep.res, rep.ok, rep.err
		}
		res, err := wait(ctx, rep.res, rep.wait)
		return res, true, err
	case <-ctx.Done():
		return Result{}, false, ctx.Err()
	}
}

// wait blocks, in sync mode, until the push carrying res's commit ended.
// The pushed commit's hash differs from the local one when the commit was
// re-applied onto a moved remote.
func wait(ctx context.Context, res Result, ch <-chan outcome) (Result, error) {
	if ch == nil {
		return res, nil
	}
	select {
	case o := <-ch:
		res.Commit = o.hash.String()
		if o.err != nil {
			return res, fmt.Errorf("commit %.12s: %w", res.Commit, o.err)
		}
		res.Pushed = true
		return res, nil
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

// do runs f on the writer goroutine.
func (r *Repo) do(ctx context.Context, f func(*writer)) error {
	select {
	case <-r.closed:
		return ErrClosed
	default:
	}
	select {
	case r.ops <- f:
		return nil
	case <-r.closed:
		return ErrClosed
	case <-r.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// internal runs f on the writer goroutine for the pusher, which keeps
// working after Close until the final push is done.
func (r *Repo) internal(ctx context.Context, f func(*writer)) error {
	select {
	case r.ops <- f:
		return nil
	case <-r.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Head returns the branch head, "" for a branch without commits.
func (r *Repo) Head(ctx context.Context) (string, error) {
	ch := make(chan plumbing.Hash, 1)
	if err := r.do(ctx, func(w *writer) { ch <- w.head }); err != nil {
		return "", err
	}
	select {
	case h := <-ch:
		if h.IsZero() {
			return "", nil
		}
		return h.String(), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Pending returns the number of commits on the branch that the remote
// does not have yet: 0 when push is off. It never blocks, so metrics can
// read it while the writer is busy.
func (r *Repo) Pending() int { return int(r.pending.Load()) }

// Healthy returns nil when the writer answers and the branch can be read.
func (r *Repo) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch := make(chan error, 1)
	if err := r.do(ctx, func(w *writer) { ch <- w.check() }); err != nil {
		return fmt.Errorf("repository writer: %w", err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("repository writer: %w", ctx.Err())
	}
}

// Close stops taking new work, lets the writer finish what it has, and
// gives the pusher until ctx is done to push what is pending. Commits it
// could not push stay on the branch and are pushed at the next start.
func (r *Repo) Close(ctx context.Context) error {
	var err error
	r.closing.Do(func() {
		close(r.closed)
		if r.pusher != nil {
			err = r.pusher.stop(ctx)
		}
		close(r.quit)
		<-r.stopped
		if r.pusher != nil {
			r.pusher.st.Close()
		}
		r.reader.mu.Lock()
		r.reader.st.Close()
		r.reader.mu.Unlock()
		if r.gc != nil {
			r.gc.stop()
		}
	})
	return err
}

// validPath accepts clean, relative, slash-separated paths without empty,
// "." or ".." elements, and without ".git" anywhere.
func validPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." || strings.EqualFold(el, ".git") {
			return false
		}
	}
	return true
}
