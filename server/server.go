// Package server is spano's HTTP side: the Micropub media endpoint, its
// queries, serving of committed media, health, CORS and the one place where
// errors become Micropub JSON responses.
//
// New builds every route in one constructor. Handlers are written as a
// straight line returning error; a single adapter turns a typed *Error into
// {"error","error_description"} and anything else into a bare 500 whose
// detail is only logged. The access log has one line per request and never
// holds a token: access_token is redacted from logged URLs and headers are
// not logged at all.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"spano/hashstore"
	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/ingest"
	"spano/record"
	"spano/repo"
)

// Verifier checks an access token; *indieauth.Verifier is the real one.
type Verifier interface {
	Verify(ctx context.Context, token string) (indieauth.Token, error)
}

// Repository is the site repository as the server uses it (deletes,
// serving, health); *repo.Repo is the real one. It is an interface
// because the server must not know how commits are grouped, pushed or
// retried.
type Repository interface {
	Commit(ctx context.Context, c repo.Change) (repo.Result, error)
	Stat(ctx context.Context, path string) (repo.Entry, error)
	Open(ctx context.Context, path string) (repo.Content, repo.Entry, error)
	Healthy(ctx context.Context) error
}

// Hooks runs the owner's hooks after a delete; *hooks.Runner is the real
// one. Nil in Options means no hooks.
type Hooks interface {
	Notify(ev hooks.Event)
}

// Options are the server's dependencies and the config values it needs.
// cmd/spano builds each dependency from the config file.
type Options struct {
	Verifier Verifier
	Repo     Repository
	// Pipeline accepts uploads: every stage after the form is read.
	Pipeline *ingest.Pipeline
	// Layout names repository paths, records and published URLs.
	Layout record.Layout
	Hooks  Hooks // nil: no hooks
	// Metrics counts uploads and their stages; nil: counted, not exported.
	Metrics *Metrics
	// Gatherer is served at /metrics, without a token (Prometheus sends
	// none): the proxy in front keeps it private. Nil: no /metrics.
	Gatherer prometheus.Gatherer
	// Index answers q=source, q=last and finds what a delete removes;
	// nil: those queries are not offered and delete is refused.
	Index *index.Index
	// Live says which uploads the site serves, for q=source's `live`;
	// nil: the field is left out (no live check).
	Live Live
	// Spooler caps concurrent spools and checks free space before each
	// (see NewSpooler); nil: one with the default limits around
	// Pipeline.Spool.
	Spooler *Spooler

	BaseURL      string   // this service's public URL, for q=config
	EndpointPath string   // e.g. "/micropub/media"
	MediaURLPath string   // where the site serves media.dir, e.g. "/media"
	MaxSize      int64    // media.max_size in bytes
	Scopes       []string // auth.scopes: any one allows upload and queries
	DeleteScopes []string // auth.delete_scopes: any one allows delete
	Serve        bool     // serve committed media at MediaURLPath
	CORSOrigins  []string // "*" allows any origin

	// Session lets the media library page's session cookie, with its
	// CSRF token, stand for an access token on the endpoint; nil: tokens
	// only.
	Session SessionAuth
	// UI is the media library page, mounted under UIPath (e.g. "/"),
	// after every other route; nil: no page.
	UI     http.Handler
	UIPath string
	// UIMediaPath serves committed files to sessions, whatever Serve
	// says, for the page's thumbnails; "" or no Session: not served.
	UIMediaPath string

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Server holds the handlers' dependencies. It is built by New and used
// only through the http.Handler New returns.
type Server struct {
	verifier Verifier
	repo     Repository
	pipeline *ingest.Pipeline
	layout   record.Layout
	store    *hashstore.Store
	hooks    Hooks
	metrics  *Metrics
	index    *index.Index
	live     Live
	spooler  *Spooler

	baseURL      string
	endpointPath string
	mediaURLPath string
	maxSize      int64
	scopes       []string
	deleteScopes []string
	corsOrigins  []string
	session      SessionAuth

	log *slog.Logger
	now func() time.Time
}

// New returns the handler serving every spano route with its middleware:
// request ids, the access log, CORS on every response and 204 for OPTIONS.
func New(opts Options) http.Handler {
	s := &Server{
		verifier:     opts.Verifier,
		repo:         opts.Repo,
		pipeline:     opts.Pipeline,
		layout:       opts.Layout,
		store:        opts.Layout.Store,
		hooks:        opts.Hooks,
		metrics:      opts.Metrics,
		index:        opts.Index,
		live:         opts.Live,
		baseURL:      strings.TrimRight(opts.BaseURL, "/"),
		endpointPath: "/" + strings.Trim(opts.EndpointPath, "/"),
		mediaURLPath: "/" + strings.Trim(opts.MediaURLPath, "/"),
		maxSize:      opts.MaxSize,
		scopes:       opts.Scopes,
		deleteScopes: opts.DeleteScopes,
		corsOrigins:  opts.CORSOrigins,
		session:      opts.Session,
		log:          opts.Logger,
		now:          opts.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("system", "http")
	s.spooler = opts.Spooler
	if s.spooler == nil && s.pipeline != nil {
		s.spooler = NewSpooler(s.pipeline.Spool, SpoolOptions{})
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics, _ = NewMetrics(nil) // nothing to register with: cannot fail
	}
	if s.mediaURLPath == "/" {
		s.mediaURLPath = ""
	}

	r := mux.NewRouter()
	r.NotFoundHandler = s.handle(func(http.ResponseWriter, *http.Request) error { return errNotFound })
	r.MethodNotAllowedHandler = s.handle(func(http.ResponseWriter, *http.Request) error { return errMethodNotAllowed })

	endpoint := func(h http.Handler) http.Handler { return h }
	if s.session != nil {
		s.verifier = sessionVerifier{next: s.verifier}
		endpoint = s.sessions
	}
	r.Handle(s.endpointPath, endpoint(s.handle(s.post))).Methods(http.MethodPost)
	r.Handle(s.endpointPath, endpoint(s.handle(s.query))).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/healthz", s.handle(s.healthz)).Methods(http.MethodGet, http.MethodHead)
	if opts.Gatherer != nil {
		r.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError, // a broken collector must not hide the others
		})).Methods(http.MethodGet, http.MethodHead)
	}
	if opts.Serve {
		r.PathPrefix(s.mediaURLPath+"/").Handler(s.handle(s.serveMedia)).Methods(http.MethodGet, http.MethodHead)
	}
	if s.session != nil && opts.UIMediaPath != "" {
		prefix := "/" + strings.Trim(opts.UIMediaPath, "/") + "/"
		r.PathPrefix(prefix).Handler(s.handle(s.serveSessionMedia(prefix))).Methods(http.MethodGet, http.MethodHead)
	}
	if opts.UI != nil {
		r.PathPrefix("/"+strings.TrimLeft(opts.UIPath, "/")).Handler(opts.UI).
			Methods(http.MethodGet, http.MethodHead, http.MethodPost)
	}

	return s.accessLog(s.cors(r))
}

// writeJSON sends v with status; an encoding failure can only be logged
// since the status line is already out.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if err := encodeJSON(w, v); err != nil {
		s.log.WarnContext(r.Context(), "write response", "err", err, "request_id", requestID(r.Context()))
	}
}
