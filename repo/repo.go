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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
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
	// goroutines (NoticeCommitted on the writer, before Commit returns),
	// so it must not block for long and must never call back into Repo:
	// such a call panics rather than deadlock.
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

	// StuckAfter is how long one task of the writer (a group of commits,
	// a re-apply) may take before Healthy calls it stuck; 0 means 30s.
	StuckAfter time.Duration

	// Syncer makes written objects and refs durable; nil means fsync.
	// Tests inject one to watch the order of the syncs.
	Syncer Syncer

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

// Blob is a file to add: Path in the repository, and its bytes as File
// on local disk, Data (small files: a record), or Hash, a blob WriteBlob
// stored already.
type Blob struct {
	Path string
	File string
	Data []byte
	Hash string
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
	commits chan *commitReq // grouped by the writer
	stopped chan struct{}   // closed when the writer goroutine ends
	closing sync.Once
	closed  chan struct{} // closed by Close: no new work
	quit    chan struct{} // closed by Close after the final push: the writer ends

	reader *reader

	pusher *pusher
	// recent holds the objects committed and not yet pushed, for the
	// pusher (nil without one).
	recent *recentObjects

	gc *housekeeper // nil: read-only, or housekeeping off

	// notifying is set while the writer delivers a notice, and writerID
	// is its goroutine: together they catch a Notify that calls back.
	notifying atomic.Bool
	writerID  atomic.Uint64

	// busySince is when the writer began its current task (0: idle) and
	// head the branch head it last left, so that Healthy need not wait
	// behind a group of commits to tell that the writer is alive.
	busySince atomic.Int64
	head      atomic.Value // plumbing.Hash

	// pending mirrors the writer's count of unpushed commits for Pending,
	// which must not wait behind a commit in progress.
	pending atomic.Int64
	// unpushed is the same for Pushed (pushed.go).
	unpushed atomic.Pointer[unpushedSet]
}

// withDefaults fills what opts leaves zero and checks the branch name.
func (opts Options) withDefaults() (Options, error) {
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
	if opts.StuckAfter <= 0 {
		opts.StuckAfter = 30 * time.Second
	}
	if opts.Syncer == nil {
		opts.Syncer = fsyncer{}
	}
	if opts.AuthorName == "" {
		opts.AuthorName = "spano"
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = "spano@localhost"
	}
	// Absolute, so that git commands run in the clone (housekeeping) find
	// it whatever their working folder: a relative GIT_DIR is resolved
	// against the command's.
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return opts, fmt.Errorf("open repository: %w", err)
	}
	opts.Path = abs
	if !plumbing.NewBranchReferenceName(opts.Branch).IsBranch() || strings.ContainsAny(opts.Branch, " ~^:?*[\\") {
		return opts, fmt.Errorf("open repository: bad branch name %q", opts.Branch)
	}
	return opts, nil
}

// Open opens the repository at opts.Path, cloning it from opts.Remote (in
// full) or initialising it when it does not exist, and starts the writer
// and, unless push is off, the pusher.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Repo{
		opts:    opts,
		log:     opts.Logger.With("system", "repo"),
		branch:  plumbing.NewBranchReferenceName(opts.Branch),
		track:   plumbing.NewRemoteReferenceName("origin", opts.Branch),
		ops:     make(chan func(*writer)),
		commits: make(chan *commitReq),
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
		removeStaleLocks(opts.Path, r.branch, r.track)
		if err := removeTempBlobs(opts.Path); err != nil {
			r.log.Warn("half-written objects of an earlier run left behind", "err", err)
		}
		if err := removeTempPacks(opts.Path); err != nil {
			r.log.Warn("half-written objects of an earlier run left behind", "err", err)
		}
		git, _ := exec.LookPath("git")
		if git != "" {
			restoreIndexes(git, opts.Path, opts.Syncer, r.log) // before anything reads
		}
		if opts.GCEvery >= 0 {
			r.gc = newHousekeeper(git, opts.Path, opts.Syncer, r.log)
		}
	}

	w, err := newWriter(r)
	if err != nil {
		return nil, err
	}
	r.reader = &reader{st: r.newStorage()}
	if opts.Push != PushOff {
		r.pusher, r.recent = newPusher(r), newRecentObjects()
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
	return openStorage(r.opts.Path, r.gc)
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
