package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"spano/hashstore"
	"spano/netlimit"
)

// Defaults of SpoolOptions.
const (
	// DefaultSpools is how many uploads of identified clients may spool
	// at once: more than a gallery sent from the media library page, and
	// at 50 MB each no more than a few GB of temp files.
	DefaultSpools = 64
	// DefaultUnidentifiedSpools is how many clients that have shown no
	// token yet may spool at once (MaxUnidentifiedFile each). They have a
	// pool of their own so that anonymous clients can never take the
	// slots of the owner's uploads.
	DefaultUnidentifiedSpools = 16
	// DefaultMinFree is the space that must stay free under data_dir
	// for a spool to start: enough for git's own work (pack files, gc)
	// and the site's other needs; under it, uploads get 507.
	DefaultMinFree = 1_000_000_000
	// spoolRetryAfter is what a 503 for a full spool tells clients to
	// wait, in seconds: a spool lasts as long as an upload.
	spoolRetryAfter = 10
)

// codeInsufficientStorage is the code of a 507.
const codeInsufficientStorage = "insufficient_storage"

// SpoolOptions configure a Spooler; zero values take the defaults, a
// negative Spools, UnidentifiedSpools or MinFree turns that limit off.
type SpoolOptions struct {
	Spools             int    // concurrent spools of identified clients
	UnidentifiedSpools int    // concurrent spools of clients with no token yet
	DataDir            string // where free space is checked; "" checks none
	MinFree            int64  // bytes that must stay free under DataDir
}

// Spooler guards the pipeline's first stage, the spool: a spool starts
// only when a slot of its pool is free and DataDir has MinFree bytes left.
// Its Spool method is what readForm's formSource.spool wants.
type Spooler struct {
	spool        func(context.Context, io.Reader) (*hashstore.File, error)
	identified   *netlimit.Gate
	unidentified *netlimit.Gate
	dataDir      string
	minFree      int64
	free         func(dir string) (uint64, error) // netlimit.FreeBytes; tests fill a disk by replacing it
}

// NewSpooler returns a Spooler spooling with spool (ingest.Pipeline.Spool).
func NewSpooler(spool func(context.Context, io.Reader) (*hashstore.File, error), opts SpoolOptions) *Spooler {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	minFree := opts.MinFree
	if minFree == 0 {
		minFree = DefaultMinFree
	}
	return &Spooler{
		spool:        spool,
		identified:   netlimit.NewGate(def(opts.Spools, DefaultSpools)),
		unidentified: netlimit.NewGate(def(opts.UnidentifiedSpools, DefaultUnidentifiedSpools)),
		dataDir:      opts.DataDir,
		minFree:      minFree,
		free:         netlimit.FreeBytes,
	}
}

// Spool spools r into the store when a slot is free (503 with
// Retry-After when not) and the disk has room (507 when not). The slot
// is held while r is read.
func (sp *Spooler) Spool(ctx context.Context, r io.Reader, identified bool) (*hashstore.File, error) {
	gate := sp.unidentified
	if identified {
		gate = sp.identified
	}
	release, ok := gate.TryAcquire()
	if !ok {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Description: "too many uploads at once, try again shortly",
			Header:      http.Header{"Retry-After": {strconv.Itoa(spoolRetryAfter)}},
			Err:         errors.New("spool: every slot is taken")}
	}
	defer release()
	if sp.dataDir != "" && sp.minFree > 0 {
		free, err := sp.free(sp.dataDir)
		switch {
		case errors.Is(err, netlimit.ErrNoFreeSpace):
		case err != nil:
			return nil, fmt.Errorf("spool: %w", err)
		case free < uint64(sp.minFree):
			return nil, &Error{Status: http.StatusInsufficientStorage, Code: codeInsufficientStorage,
				Description: "the server is out of disk space",
				Err:         fmt.Errorf("spool: %d bytes free under %s, below the floor of %d", free, sp.dataDir, sp.minFree)}
		}
	}
	return sp.spool(ctx, r)
}
