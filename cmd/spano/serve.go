package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"spano/config"
	"spano/hashstore"
	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/repo"
	"spano/server"
	"spano/thumbs"
)

// Shutdown deadlines. In-flight uploads get a while to finish; pending
// commits then get their own time to be pushed (what is not pushed stays
// on the branch and goes out at the next start).
const (
	shutdownTimeout  = 60 * time.Second
	repoCloseTimeout = 30 * time.Second
	hooksCloseTimout = 10 * time.Second
)

// runServe is "spano serve": load the config, build every component from
// it, serve until ctx ends, then shut down in order.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", "", "config file (default $SPANO_CONFIG, else ./_config.yml, else the embedded default)")
	listen := fset.String("listen", "", "listen address, overriding the config's listen (e.g. 127.0.0.1:8080, or :0 for any free port)")
	logFormat := fset.String("log-format", "", "text or json, overriding the config's log.format")
	logLevel := fset.String("log-level", "", "debug, info, warn or error, overriding the config's log.level (debug shows each upload's stage timings)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fset.Arg(0))
	}

	path, err := findConfig(*configPath, os.Getenv)
	if err != nil {
		return err
	}
	var cfg config.Config
	if path != "" {
		if cfg, err = config.Load(path, os.Getenv); err != nil {
			return err
		}
		if *listen != "" {
			cfg.SetListen(*listen)
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("config %s: %w", path, err)
			}
		}
	} else {
		cfg = config.Default()
		if *listen != "" {
			cfg.Listen = *listen
		}
	}

	// Listening first lets "-listen 127.0.0.1:0" work: the embedded
	// default's URLs are built from the address actually bound.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	var embedded *embeddedInfo
	if path == "" {
		if cfg, embedded, err = embeddedConfig(ln.Addr().String()); err != nil {
			return err
		}
	}

	if *logFormat != "" {
		cfg.Log.Format = *logFormat
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	log, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	if path != "" {
		log.Info("config loaded", "file", path)
	}
	if embedded != nil {
		embedded.announce(log, stdout, cfg)
	}
	return serve(ctx, cfg, ln, log)
}

// findConfig applies the lookup order of SPEC.md: -config, $SPANO_CONFIG,
// ./_config.yml when present; "" means the embedded default.
func findConfig(flagPath string, getenv func(string) string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p := getenv("SPANO_CONFIG"); p != "" {
		return p, nil
	}
	const local = "_config.yml"
	switch _, err := os.Stat(local); {
	case err == nil:
		return local, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	default:
		return "", fmt.Errorf("config: %w", err)
	}
}

// newLogger builds the operators' log from log.format and log.level.
func newLogger(w io.Writer, c config.LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if c.Level != "" {
		if err := level.UnmarshalText([]byte(c.Level)); err != nil {
			return nil, fmt.Errorf("log.level: %w", err)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: must be text or json, got %q", c.Format)
}

// serve builds the components from cfg, serves on ln until ctx ends and
// shuts down: stop accepting, finish in-flight requests, push what is
// pending, deliver queued hook events.
func serve(ctx context.Context, cfg config.Config, ln net.Listener, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	tmp := filepath.Join(cfg.DataDir, "tmp")

	// One registry for /metrics: each component registers its own
	// metrics on it through its Options.
	reg := newRegistry()
	metrics, err := server.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	store, err := hashstore.New(hashstore.Options{
		TempDir: tmp, MaxSize: int64(cfg.Media.MaxSize), Types: cfg.Media.Types,
		MediaDir: cfg.Media.Dir, Depth: cfg.Media.Depth, Width: cfg.Media.Width,
	})
	if err != nil {
		return err
	}
	if err := store.CleanTemp(); err != nil {
		log.Warn("temp files of an earlier run left behind", "err", err)
	}

	// Thumbnails of a crashed run are only garbage: start with an empty
	// folder.
	thumbTmp := filepath.Join(tmp, "thumbs")
	if err := os.RemoveAll(thumbTmp); err != nil {
		log.Warn("temp thumbnails of an earlier run left behind", "err", err)
	}
	if err := os.MkdirAll(thumbTmp, 0o700); err != nil {
		return fmt.Errorf("thumbnail temp dir: %w", err)
	}
	images, err := thumbs.New(thumbs.Options{
		Widths: cfg.Thumbnails.Widths, Quality: cfg.Thumbnails.Quality,
		MaxPixels: cfg.Thumbnails.MaxPixels, TempDir: thumbTmp,
	})
	if err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}

	static := make([]indieauth.StaticToken, len(cfg.Auth.Tokens))
	for i, t := range cfg.Auth.Tokens {
		static[i] = indieauth.StaticToken{SHA256: t.SHA256, Scope: t.Scope}
	}
	verifier, err := indieauth.New(ctx, indieauth.Options{
		Me: cfg.Auth.Me, Static: static,
		TokenEndpoint:         cfg.Auth.TokenEndpoint,
		IntrospectionEndpoint: cfg.Auth.IntrospectionEndpoint,
		IntrospectionBearer:   cfg.Auth.IntrospectionBearer,
		Discover:              cfg.Auth.Discover,
		CacheTTL:              time.Duration(cfg.Auth.CacheTTL),
		Registerer:            reg,
		Logger:                log,
	})
	if err != nil {
		return err
	}

	hookList := make([]hooks.Hook, len(cfg.Hooks))
	for i, h := range cfg.Hooks {
		hookList[i] = hooks.Hook{Name: h.Name, Events: h.Events, Command: h.Command,
			URL: h.URL, Secret: h.Secret, Timeout: time.Duration(h.Timeout)}
	}
	env := withoutSecrets(os.Environ(), cfg.Repo.Password, cfg.Auth.IntrospectionBearer)
	runner, err := hooks.New(hookList, hooks.Options{Logger: log, Env: env, Registerer: reg})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), hooksCloseTimout)
		defer cancel()
		if err := runner.Close(ctx); err != nil {
			log.Warn("hook events not delivered before shutdown", "err", err)
		}
	}()

	site := sitePublisher{store: store, base: publishBase(cfg)}
	// The index hears of every commit; notices before Load are queued.
	media := index.New(index.Options{Store: store, MediaDir: cfg.Media.Dir, RepoPath: cfg.Repo.Path, Logger: log})
	r, err := repo.Open(ctx, repo.Options{
		Path: cfg.Repo.Path, Remote: cfg.Repo.Remote, Branch: cfg.Repo.Branch,
		Push: repo.PushMode(cfg.Repo.Push), PushDelay: time.Duration(cfg.Repo.PushDelay),
		Username: cfg.Repo.Username, Password: cfg.Repo.Password,
		SSHKey: cfg.Repo.SSHKey, SSHKnownHosts: cfg.Repo.SSHKnownHosts,
		AuthorName: cfg.Repo.AuthorName, AuthorEmail: cfg.Repo.AuthorEmail,
		Logger: log,
		Notify: func(n repo.Notice) {
			media.Apply(n)
			metrics.Notice(n)
			notifyHooks(runner, site, log, n)
		},
	})
	if err != nil {
		return err
	}
	reg.MustRegister(pendingGauge(r))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), repoCloseTimeout)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			log.Warn("repository closed with commits not yet pushed; they go out at the next start", "err", err)
		}
	}()

	if err := media.Load(ctx, r); err != nil {
		return err
	}

	handler := server.New(server.Options{
		Verifier: verifier, Repo: r, Store: store, Images: images, Hooks: runner, Index: media,
		BaseURL: cfg.BaseURL, EndpointPath: cfg.EndpointPath,
		SiteURL: cfg.Site.URL, MediaURLPath: cfg.Media.URLPath,
		MaxSize: int64(cfg.Media.MaxSize), Scopes: cfg.Auth.Scopes, DeleteScopes: cfg.Auth.DeleteScopes,
		StripGPS: cfg.Media.StripGPS, Serve: cfg.Media.Serve,
		CORSOrigins: cfg.CORS.Origins,
		Metrics:     metrics,
		Gatherer:    reg,
		Logger:      log,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests keep running during Shutdown: their context must not
		// end with the signal that started it.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	log.Info("spano listening",
		"addr", ln.Addr().String(),
		"endpoint", strings.TrimRight(cfg.BaseURL, "/")+cfg.EndpointPath,
		"site", cfg.Site.URL,
		"repo", cfg.Repo.Path, "branch", cfg.Repo.Branch,
		"remote", redactURL(cfg.Repo.Remote), "push", string(cfg.Repo.Push),
		"media_dir", cfg.Media.Dir, "serve_media", cfg.Media.Serve,
		"tokens", verifier.Mode(),
		"version", versionString())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the shutdown deadline", "err", err)
		srv.Close()
	}
	return nil
}

// redactURL hides any password in a remote URL before it is logged.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.LastIndex(s, "@"); at > i {
			if c := strings.Index(s[i+3:at], ":"); c >= 0 {
				return s[:i+3+c] + ":REDACTED" + s[at:]
			}
		}
	}
	return s
}

// withoutSecrets drops from env the variables that hold one of spano's
// own credentials (the git password or token, the introspection bearer),
// so that hook commands, which get spano's environment for their own
// settings, cannot read what gives write access to the site.
func withoutSecrets(env []string, secrets ...string) []string {
	secrets = slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
	return slices.DeleteFunc(env, func(kv string) bool {
		_, v, _ := strings.Cut(kv, "=")
		return slices.Contains(secrets, v)
	})
}
