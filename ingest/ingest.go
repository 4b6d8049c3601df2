// Package ingest accepts an upload: it owns the way a file goes from the
// request body to a durable commit, as a short list of stages that
// Accept runs in order (see Accept). The server parses the request,
// authorises it, hands the spooled file here and writes the answer; every
// capability an upload gains (a format, a rendition, object storage, a
// record) is a stage here, not a branch in the handler.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"spano/hashstore"
	"spano/hooks"
	"spano/index"
	"spano/record"
	"spano/repo"
	"spano/thumbs"
)

// Stages of an upload: the stage label of spano_upload_stage_seconds.
const (
	StageSpool  = "spool"      // receive, hash and sniff the body
	StageStrip  = "strip"      // remove GPS metadata
	StageDerive = "thumbnails" // image checks, thumbnails and other renditions
	StageVeto   = "veto"       // upload hooks
	StageCommit = "commit"     // the repository's Commit (sync: until pushed)
)

// Repository is the site repository as the pipeline uses it; *repo.Repo
// is the real one.
type Repository interface {
	WriteBlob(ctx context.Context, file string) (repo.StoredBlob, error)
	Commit(ctx context.Context, c repo.Change) (repo.Result, error)
	Duplicate(ctx context.Context, path string) (repo.Result, bool, error)
}

// Hooks runs the owner's hooks; *hooks.Runner is the real one.
type Hooks interface {
	Veto(ctx context.Context, ev hooks.Event) error
	Notify(ev hooks.Event)
}

// Trace follows one upload for the metrics and the debug log: Stage
// starts timing a stage and the returned func ends it; a stage that fails
// is not ended. The server's metrics implement it.
type Trace interface {
	Stage(name string) (end func())
}

// Options are the pipeline's dependencies and the config values it needs.
type Options struct {
	Store  *hashstore.Store
	Repo   Repository
	Layout record.Layout // paths, record files and published URLs
	Images *thumbs.Maker // nil: no image checks and no thumbnails
	Hooks  Hooks         // nil: no hooks
	// Index answers for files already stored (their size and variants);
	// nil: a duplicate is answered from the repository alone.
	Index *index.Index
	// StripGPS removes location metadata before the file is hashed for
	// its path.
	StripGPS bool
	// Records writes the record file of each upload in its commit.
	Records bool
	// MaxFileSize refuses (413) files at least this big: the git host
	// would refuse the push (repo.max_file_size). 0: no limit.
	MaxFileSize int64
	// TempDir holds the record files and renditions while an upload is
	// committed.
	TempDir string

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Pipeline accepts uploads. It is safe for concurrent use.
type Pipeline struct {
	opts Options
	log  *slog.Logger
}

// New returns a Pipeline.
func New(opts Options) (*Pipeline, error) {
	if opts.Store == nil || opts.Repo == nil || opts.Layout.Store == nil {
		return nil, errors.New("ingest: a store, a repository and a layout are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	return &Pipeline{opts: opts, log: opts.Logger.With("system", "ingest")}, nil
}

// Upload is what the server hands over: the spooled file and what the
// request said about it.
type Upload struct {
	File     *hashstore.File // spooled, hashed and checked by Spool; removed by the caller
	Filename string          // the client's name for it, cleaned
	Client   string          // the token's client_id
}

// Result is what Accept did: the record of the upload (new or found), and
// the commit that holds it.
type Result struct {
	Record    record.Record
	Duplicate bool
	Commit    string
	Pushed    bool
}

// Spool is the first stage, run while the request body streams in: the
// file goes to disk while it is hashed, its type is sniffed from its
// bytes, and what is too big, not allowed or unsafe is refused.
func (p *Pipeline) Spool(ctx context.Context, r io.Reader) (*hashstore.File, error) {
	f, err := p.opts.Store.Spool(ctx, r)
	if err != nil {
		return nil, err
	}
	if p.opts.MaxFileSize > 0 && f.Size >= p.opts.MaxFileSize {
		f.Remove()
		return nil, &TooBigForGitError{Size: f.Size, Max: p.opts.MaxFileSize}
	}
	return f, nil
}

// TooBigForGitError refuses a file at least repo.max_file_size big with no
// object storage to take it: the git host would refuse every push after
// it. The server answers 413.
type TooBigForGitError struct{ Size, Max int64 }

func (e *TooBigForGitError) Error() string {
	return fmt.Sprintf("the file is %d bytes; files of %d bytes or more are not committed to git (the host refuses them): configure storage.s3 to offload them", e.Size, e.Max)
}

// Accept stores an upload. Its stages, in order:
//
//  1. spool and hash, sniff and check: Spool, as the body arrived;
//  2. strip: location metadata goes, and the hash follows the bytes;
//  3. duplicate: bytes already on the branch get their record back, with
//     no other work (the check the writer makes again at commit time);
//  4. derive: image checks and thumbnails, started as soon as the file is
//     final and running beside the duplicate check;
//  5. veto: the owner's upload hooks may refuse it;
//  6. place: paths, the record file and the commit message;
//  7. commit: durable, and pushed as repo.push says;
//  8. notify: the stored event.
func (p *Pipeline) Accept(ctx context.Context, up Upload, tr Trace) (Result, error) {
	u := &upload{Upload: up, tr: tr}
	if u.tr == nil {
		u.tr = noTrace{}
	}
	defer u.cleanup()
	if err := p.strip(ctx, u); err != nil {
		return Result{}, err
	}
	derived := p.derive(ctx, u)
	if res, dup, err := p.duplicate(ctx, u, derived); err != nil || dup {
		return res, err
	}
	if err := derived.wait(); err != nil {
		return Result{}, err
	}
	if err := p.veto(ctx, u); err != nil {
		return Result{}, err
	}
	change, err := p.place(u)
	if err != nil {
		return Result{}, err
	}
	return p.commit(ctx, u, change)
}

// upload is one upload on its way through the stages.
type upload struct {
	Upload
	tr   Trace
	blob *repo.StoredBlob // the original, once written to the object store
	path string           // the original's repository path
	img  thumbs.Image     // what derive found and made
	rec  record.Record
	temp []string // files to remove when done
}

func (u *upload) cleanup() {
	for _, t := range u.img.Thumbnails {
		os.Remove(t.Path)
	}
	for _, f := range u.temp {
		os.Remove(f)
	}
}

type noTrace struct{}

func (noTrace) Stage(string) func() { return func() {} }
