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
	"io"
	"log/slog"
	"os"
	"time"

	"spano/hashstore"
	"spano/heic"
	"spano/hooks"
	"spano/index"
	"spano/objstore"
	"spano/record"
	"spano/repo"
	"spano/thumbs"
	"spano/video"
)

// Stages of an upload: the stage label of spano_upload_stage_seconds.
const (
	StageSpool   = "spool"      // receive, hash and sniff the body
	StageConvert = "convert"    // HEIC/HEIF to the JPEG published instead
	StageStrip   = "strip"      // remove GPS metadata
	StageDerive  = "thumbnails" // image checks, thumbnails, video facts and posters
	StageVeto    = "veto"       // upload hooks
	StageOffload = "offload"    // big media to object storage
	StageCommit  = "commit"     // the repository's Commit (sync: until pushed)
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
	// Converter turns HEIC and HEIF into the JPEG published in their
	// place; nil refuses them.
	Converter *heic.Converter
	// Video reads videos; with FFmpeg set it makes their posters.
	Video video.Options
	// Rule says where each file goes, the repository or the bucket, and
	// refuses what the git host would (repo.max_file_size).
	Rule objstore.Rule
	// Objects is the bucket of offloaded files; nil: none.
	Objects *objstore.Store
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
	// A file the git host would refuse, with no bucket to take it.
	if _, err := p.opts.Rule.ToBucket(f.Size, f.Type); err != nil {
		f.Remove()
		return nil, err
	}
	return f, nil
}

// Accept stores an upload. Its stages, in order:
//
//  1. spool and hash, sniff and check: Spool, as the body arrived;
//  2. convert: a HEIC goes on as the JPEG made from it;
//  3. strip: location metadata goes, and the hash follows the bytes;
//  4. duplicate: bytes already stored get their record back, with no
//     other work (the check the writer makes again at commit time);
//  5. derive: image checks and thumbnails, video facts and poster,
//     started as soon as the file is final, beside the duplicate check;
//  6. veto: the owner's upload hooks may refuse it;
//  7. offload: a file storage.offload selects goes to the bucket;
//  8. place: paths, the record file and the commit message;
//  9. commit: durable, and pushed as repo.push says; then the stored
//     event.
func (p *Pipeline) Accept(ctx context.Context, up Upload, tr Trace) (Result, error) {
	u := &upload{Upload: up, tr: tr}
	if u.tr == nil {
		u.tr = noTrace{}
	}
	defer u.cleanup()
	if err := p.convert(ctx, u); err != nil {
		return Result{}, err
	}
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
	if err := p.offload(ctx, u); err != nil {
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
	img  thumbs.Image     // what derive found and made of an image
	// video, poster and posterImg are what derive found and made of a
	// video: its facts, its poster frame file and the poster's
	// thumbnails.
	video     video.Facts
	poster    string
	posterImg thumbs.Image
	source    *source // what was sent, when it was converted
	offloaded bool    // the original went to the bucket
	rec       record.Record
	temp      []string // files to remove when done
}

func (u *upload) cleanup() {
	u.cleanupMedia()
	for _, f := range u.temp {
		os.Remove(f)
	}
}

type noTrace struct{}

func (noTrace) Stage(string) func() { return func() {} }
