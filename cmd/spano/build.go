package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spano/config"
	"spano/hashstore"
	"spano/heic"
	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/ingest"
	"spano/live"
	"spano/netlimit"
	"spano/objstore"
	"spano/record"
	"spano/repo"
	"spano/server"
	"spano/thumbs"
	"spano/ui"
	"spano/video"
)

// The components of spano, each built from the config by one constructor
// named for it, so that serve and the read-only commands build them the
// same way (litestream's NewDBFromConfig style).

// newStoreFromConfig is the hashstore: the spool folder under tmp and the
// media layout.
func newStoreFromConfig(cfg config.Config, tmp string) (*hashstore.Store, error) {
	return hashstore.New(hashstore.Options{
		TempDir: tmp, MaxSize: int64(cfg.Media.MaxSize), Types: cfg.Media.Types,
		MediaDir: cfg.Media.Dir, Depth: cfg.Media.Depth, Width: cfg.Media.Width,
	})
}

// newLayoutFromConfig places uploads: paths, records, published URLs.
func newLayoutFromConfig(cfg config.Config, store *hashstore.Store) record.Layout {
	l := record.Layout{
		Store:     store,
		SiteURL:   siteMediaURL(cfg),
		ObjectURL: strings.TrimRight(cfg.Storage.S3.PublicURL, "/"),
	}
	if cfg.Site.Records {
		l.DataDir = cfg.Site.DataDir
	}
	return l
}

// siteMediaURL is where the site publishes media.dir: site.url +
// media.url_path, without a trailing slash.
func siteMediaURL(cfg config.Config) string {
	return strings.TrimRight(strings.TrimRight(cfg.Site.URL, "/")+"/"+strings.Trim(cfg.Media.URLPath, "/"), "/")
}

// newImagesFromConfig is the thumbnail maker.
func newImagesFromConfig(cfg config.Config) (*thumbs.Maker, error) {
	m, err := thumbs.New(thumbs.Options{
		Widths: cfg.Thumbnails.Widths, Formats: cfg.Thumbnails.Formats, Quality: cfg.Thumbnails.Quality,
		MaxPixels: cfg.Thumbnails.MaxPixels,
	})
	if err != nil {
		return nil, fmt.Errorf("thumbnails: %w", err)
	}
	return m, nil
}

// newConverterFromConfig is the HEIC converter. Without the system
// libheif its WebAssembly decoder is compiled at the first HEIC (about 2 s
// and 40 MB), not at start: most sites never get one, and spano's memory
// stays small for them.
func newConverterFromConfig(cfg config.Config, log *slog.Logger) *heic.Converter {
	if err := heic.SystemLibrary(); err != nil {
		log.Info("HEIC decoded in WebAssembly (install libheif for a faster, smaller decoder)", "reason", err)
	}
	return heic.New(heic.Options{MaxPixels: cfg.Thumbnails.MaxPixels})
}

// videoOptionsFromConfig is how videos are read: posters only when
// video.ffmpeg names a program that is there.
func videoOptionsFromConfig(cfg config.Config, log *slog.Logger) video.Options {
	o := video.Options{FFmpeg: cfg.Video.FFmpeg}
	if o.FFmpeg == "" {
		return o
	}
	if _, err := exec.LookPath(o.FFmpeg); err != nil {
		log.Info("no ffmpeg: videos get width, height and duration but no poster frame", "video.ffmpeg", o.FFmpeg)
		o.FFmpeg = ""
	}
	return o
}

// newObjectsFromConfig is the bucket of storage.s3, nil when there is
// none. It makes no request: a bucket down at start does not stop spano.
func newObjectsFromConfig(cfg config.Config, log *slog.Logger) (*objstore.Store, error) {
	c := cfg.Storage.S3
	if !c.Enabled() {
		return nil, nil
	}
	return objstore.New(objstore.Options{
		Endpoint: c.Endpoint, Region: c.Region, Bucket: c.Bucket, Prefix: c.Prefix,
		Depth: cfg.Media.Depth, Width: cfg.Media.Width,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, PublicURL: c.PublicURL, Logger: log,
	})
}

// ruleFromConfig says where each upload goes: the repository or the
// bucket, and what git refuses.
func ruleFromConfig(cfg config.Config) objstore.Rule {
	return objstore.Rule{
		Storage:     cfg.Storage.S3.Enabled(),
		Offload:     objstore.Offload{MinSize: int64(cfg.Storage.Offload.MinSize), Types: cfg.Storage.Offload.Types},
		MaxFileSize: int64(cfg.Repo.MaxFileSize),
	}
}

// newVerifierFromConfig is the token verifier of auth.*.
func newVerifierFromConfig(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*indieauth.Verifier, error) {
	static := make([]indieauth.StaticToken, len(cfg.Auth.Tokens))
	for i, t := range cfg.Auth.Tokens {
		static[i] = indieauth.StaticToken{SHA256: t.SHA256, Scope: t.Scope}
	}
	return indieauth.New(ctx, indieauth.Options{
		Me: cfg.Auth.Me, Static: static,
		TokenEndpoint:         cfg.Auth.TokenEndpoint,
		IntrospectionEndpoint: cfg.Auth.IntrospectionEndpoint,
		IntrospectionBearer:   cfg.Auth.IntrospectionBearer,
		Discover:              cfg.Auth.Discover,
		CacheTTL:              time.Duration(cfg.Auth.CacheTTL),
		NegativeTTL:           time.Duration(cfg.Limits.TokenNegativeTTL),
		FailuresPerMinute:     cfg.Limits.TokenFailuresPerMinute,
		EndpointRate:          float64(cfg.Limits.TokenEndpointRate),
		EndpointBurst:         cfg.Limits.TokenEndpointBurst,
		TrustedProxies:        cfg.Limits.TrustedPrefixes(),
		Registerer:            reg,
		Logger:                log,
	})
}

// netOptionsFromConfig are the connection limits of limits.*.
func netOptionsFromConfig(cfg config.Config) netlimit.Options {
	l := cfg.Limits
	return netlimit.Options{
		MaxConns: l.MaxConnections, ReadHeaderTimeout: time.Duration(l.ReadHeaderTimeout),
		IdleTimeout: time.Duration(l.IdleTimeout), WriteTimeout: time.Duration(l.WriteTimeout),
		MinRateBytes: int64(l.MinBodyBytes), MinRateWindow: time.Duration(l.MinBodyWindow),
	}
}

// spoolOptionsFromConfig are the spool limits of limits.*.
func spoolOptionsFromConfig(cfg config.Config) server.SpoolOptions {
	return server.SpoolOptions{
		Spools: cfg.Limits.MaxSpools, UnidentifiedSpools: cfg.Limits.MaxUnidentifiedSpools,
		DataDir: cfg.DataDir, MinFree: int64(cfg.Limits.MinFree),
	}
}

// newHooksFromConfig is the hook runner. Commands get spano's environment
// without the variables that hold its own credentials.
func newHooksFromConfig(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*hooks.Runner, error) {
	list := make([]hooks.Hook, len(cfg.Hooks))
	for i, h := range cfg.Hooks {
		list[i] = hooks.Hook{Name: h.Name, Events: h.Events, Command: h.Command,
			URL: h.URL, Secret: h.Secret, Timeout: time.Duration(h.Timeout)}
	}
	env := withoutSecrets(os.Environ(), cfg.Repo.Password, cfg.Auth.IntrospectionBearer,
		cfg.Storage.S3.SecretKey, cfg.Storage.S3.AccessKey)
	return hooks.New(list, hooks.Options{Logger: log, Env: env, Registerer: reg})
}

// repoOptionsFromConfig is repo.Options of repo.*; notify receives the
// repository's notices.
func repoOptionsFromConfig(cfg config.Config, log *slog.Logger, notify func(repo.Notice)) repo.Options {
	return repo.Options{
		Path: cfg.Repo.Path, Remote: cfg.Repo.Remote, Branch: cfg.Repo.Branch,
		Push: repo.PushMode(cfg.Repo.Push), PushDelay: time.Duration(cfg.Repo.PushDelay),
		Username: cfg.Repo.Username, Password: cfg.Repo.Password,
		SSHKey: cfg.Repo.SSHKey, SSHKnownHosts: cfg.Repo.SSHKnownHosts,
		AuthorName: cfg.Repo.AuthorName, AuthorEmail: cfg.Repo.AuthorEmail,
		Logger: log, Notify: notify,
	}
}

// newIndexFromConfig is the media index of the layout, kept between runs
// in data_dir/index.snapshot.
func newIndexFromConfig(cfg config.Config, store *hashstore.Store, log *slog.Logger) *index.Index {
	return index.New(index.Options{Store: store, MediaDir: cfg.Media.Dir, Layout: newLayoutFromConfig(cfg, store),
		Snapshot: filepath.Join(cfg.DataDir, "index.snapshot"), Logger: log})
}

// pipelineDeps are the components an upload passes through.
type pipelineDeps struct {
	store   *hashstore.Store
	layout  record.Layout
	repo    *repo.Repo
	images  *thumbs.Maker
	hooks   *hooks.Runner
	index   *index.Index
	objects *objstore.Store
	tmp     string
	log     *slog.Logger
}

// newPipelineFromConfig is the upload pipeline.
func newPipelineFromConfig(cfg config.Config, d pipelineDeps) (*ingest.Pipeline, error) {
	opts := ingest.Options{
		Store: d.store, Repo: d.repo, Layout: d.layout, Images: d.images, Index: d.index,
		StripGPS: cfg.Media.StripGPS, Records: cfg.Site.Records,
		Converter: newConverterFromConfig(cfg, d.log), Video: videoOptionsFromConfig(cfg, d.log),
		Rule: ruleFromConfig(cfg), Objects: d.objects,
		TempDir: d.tmp, Logger: d.log,
	}
	if d.hooks != nil {
		opts.Hooks = d.hooks
	}
	return ingest.New(opts)
}

// handlerDeps are what the HTTP side needs beside the pipeline's parts.
type handlerDeps struct {
	verifier *indieauth.Verifier
	live     *live.Checker // nil: no live check
	metrics  *server.Metrics
	reg      *prometheus.Registry
	embedded bool
}

// newHandlerFromConfig is every route of spano: the endpoint with its
// pipeline and spool limits, the library page, media, health, metrics;
// the verifier's middleware notes each client's address for its limits.
func newHandlerFromConfig(cfg config.Config, p pipelineDeps, h handlerDeps) (http.Handler, error) {
	pipeline, err := newPipelineFromConfig(cfg, p)
	if err != nil {
		return nil, err
	}
	page, err := newUIFromConfig(cfg, h.verifier, h.embedded, p.log)
	if err != nil {
		return nil, err
	}
	opts := serverOptionsFromConfig(cfg)
	opts.Verifier, opts.Repo, opts.Pipeline, opts.Layout, opts.Hooks, opts.Index = h.verifier, p.repo, pipeline, p.layout, p.hooks, p.index
	opts.Spooler = server.NewSpooler(pipeline.Spool, spoolOptionsFromConfig(cfg))
	opts.Metrics, opts.Gatherer, opts.Logger = h.metrics, h.reg, p.log
	if h.live != nil {
		opts.Live = h.live
	}
	if page != nil {
		opts.Session, opts.UI = page, page
		opts.UIPath, opts.UIMediaPath = ui.Dir(cfg.UI.Path), ui.MediaPath(cfg.UI.Path)
	}
	return h.verifier.Middleware(server.New(opts)), nil
}

// serverOptionsFromConfig is server.Options of the endpoint's keys.
func serverOptionsFromConfig(cfg config.Config) server.Options {
	return server.Options{
		BaseURL: cfg.BaseURL, EndpointPath: cfg.EndpointPath, MediaURLPath: cfg.Media.URLPath,
		MaxSize: int64(cfg.Media.MaxSize), Scopes: cfg.Auth.Scopes, DeleteScopes: cfg.Auth.DeleteScopes,
		Serve: cfg.Media.Serve, CORSOrigins: cfg.CORS.Origins,
	}
}

// tempDirs makes data_dir/tmp and an empty data_dir/tmp/derived for
// renditions and records (what a crashed run left there is only garbage).
func tempDirs(cfg config.Config, log *slog.Logger) (spool, derived string, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("data dir: %w", err)
	}
	spool = filepath.Join(cfg.DataDir, "tmp")
	derived = filepath.Join(spool, "derived")
	if err := os.RemoveAll(derived); err != nil {
		log.Warn("temp files of an earlier run left behind", "dir", derived, "err", err)
	}
	if err := os.MkdirAll(derived, 0o700); err != nil {
		return "", "", fmt.Errorf("temp dir: %w", err)
	}
	return spool, derived, nil
}

// newUIFromConfig is the media library page, nil when ui.enabled is off.
// Its session key lives in data_dir, so sessions survive a restart.
func newUIFromConfig(cfg config.Config, verifier *indieauth.Verifier, embedded bool, log *slog.Logger) (*ui.Page, error) {
	if !cfg.UI.Enabled {
		return nil, nil
	}
	key, err := ui.LoadKey(filepath.Join(cfg.DataDir, "ui-session-key"))
	if err != nil {
		return nil, err
	}
	var signIn *indieauth.SignIn
	if !embedded {
		// The embedded default's auth.me is spano itself, which
		// advertises no IndieAuth server: the static token signs in.
		signIn, err = indieauth.NewSignIn(indieauth.SignInOptions{Me: cfg.Auth.Me,
			ClientID: ui.ClientID(cfg.BaseURL), RedirectURI: ui.CallbackURL(cfg.BaseURL, cfg.UI.Path)})
		if err != nil {
			return nil, err
		}
	}
	owner := append(slices.Clone(cfg.Auth.Scopes), cfg.Auth.DeleteScopes...)
	return ui.New(ui.Options{Path: cfg.UI.Path, BaseURL: cfg.BaseURL, EndpointPath: cfg.EndpointPath,
		SiteMediaURL: siteMediaURL(cfg) + "/",
		Me:           cfg.Auth.Me, Key: key, Verifier: verifier, SignIn: signIn,
		Scopes: cfg.Auth.Scopes, OwnerScopes: owner, Logger: log})
}

// newLiveFromConfig is the live check, nil when site.check_live is off.
// Its state is data_dir/live.json.
func newLiveFromConfig(cfg config.Config, reg prometheus.Registerer, log *slog.Logger, onLive func(live.Item, time.Duration)) (*live.Checker, error) {
	if !cfg.Site.CheckLive {
		return nil, nil
	}
	return live.New(live.Options{
		StateFile: filepath.Join(cfg.DataDir, "live.json"),
		Allowed:   []string{siteMediaURL(cfg), cfg.Storage.S3.PublicURL},
		Timeout:   time.Duration(cfg.Site.LiveTimeout),
		Logger:    log, Registerer: reg, OnLive: onLive,
	})
}
