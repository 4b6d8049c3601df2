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
	"slices"
	"strings"
	"time"

	"spano/config"
	"spano/hooks"
	"spano/index"
	"spano/live"
	"spano/netlimit"
	"spano/repo"
	"spano/server"
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
	return serve(ctx, cfg, ln, log, embedded != nil)
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
func serve(ctx context.Context, cfg config.Config, ln net.Listener, log *slog.Logger, embedded bool) error {
	spool, derived, err := tempDirs(cfg, log)
	if err != nil {
		return err
	}
	// One registry for /metrics: each component registers its own
	// metrics on it through its Options.
	reg := newRegistry()
	metrics, err := server.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	store, err := newStoreFromConfig(cfg, spool)
	if err != nil {
		return err
	}
	if err := store.CleanTemp(); err != nil {
		log.Warn("temp files of an earlier run left behind", "err", err)
	}
	layout := newLayoutFromConfig(cfg, store)
	images, err := newImagesFromConfig(cfg)
	if err != nil {
		return err
	}
	objects, err := newObjectsFromConfig(cfg, log)
	if err != nil {
		return err
	}
	verifier, err := newVerifierFromConfig(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	runner, err := newHooksFromConfig(cfg, reg, log)
	if err != nil {
		return err
	}
	defer closeHooks(runner, log)
	checker, err := newLiveFromConfig(cfg, reg, log, func(it live.Item, _ time.Duration) { published(runner, it) })
	if err != nil {
		return err
	}
	if checker != nil {
		defer closeLive(checker, log)
	}
	media := newIndexFromConfig(cfg, store, log)
	measure := func() {} // set once the repository is open
	r, err := openRepo(ctx, cfg, log, func(n repo.Notice) {
		media.Apply(n)
		metrics.Notice(n)
		notifyHooks(runner, layout, log, n)
		watchLive(checker, layout, selfServed(cfg), log, n)
		if n.Kind == repo.NoticeCommitted {
			measure()
		}
	})
	if err != nil {
		return err
	}
	size := repo.NewSizeWarning(int64(cfg.Repo.WarnSize), log)
	measure = watchSize(ctx, size, r, cfg.Media.Dir, log)
	reg.MustRegister(append(repoGauges(r, size), pendingGauge(r))...)
	defer closeRepo(r, media, log)
	if err := media.Load(ctx, r); err != nil {
		return err
	}

	handler, err := newHandlerFromConfig(cfg, pipelineDeps{
		store: store, layout: layout, repo: r, images: images, hooks: runner, index: media,
		objects: objects, tmp: derived, log: log,
	}, handlerDeps{verifier: verifier, live: checker, metrics: metrics, reg: reg, embedded: embedded})
	if err != nil {
		return err
	}
	nl := netOptionsFromConfig(cfg)
	srv := newHTTPServer(ctx, handler, nl, log)

	log.Info("spano listening", "addr", ln.Addr().String(),
		"endpoint", strings.TrimRight(cfg.BaseURL, "/")+cfg.EndpointPath, "site", cfg.Site.URL,
		"repo", cfg.Repo.Path, "branch", cfg.Repo.Branch,
		"remote", repo.RedactURL(cfg.Repo.Remote), "push", string(cfg.Repo.Push),
		"media_dir", cfg.Media.Dir, "serve_media", cfg.Media.Serve,
		"object_storage", cfg.Storage.S3.Enabled(), "tokens", verifier.Mode(), "version", versionString())
	return listenUntil(ctx, srv, netlimit.Listener(ln, nl), log)
}

// openRepo opens the site repository; notify hears of every commit, push
// and fetch (the index queues what comes before its Load).
func openRepo(ctx context.Context, cfg config.Config, log *slog.Logger, notify func(repo.Notice)) (*repo.Repo, error) {
	return repo.Open(ctx, repoOptionsFromConfig(cfg, log, notify))
}

// selfServed reports whether spano serves the site itself (media.serve,
// site.url = base_url): an upload is then live once committed.
func selfServed(cfg config.Config) bool {
	return cfg.Media.Serve && strings.TrimRight(cfg.Site.URL, "/") == strings.TrimRight(cfg.BaseURL, "/")
}

// newHTTPServer serves handler with the deadlines of nl (limits.*).
// Requests keep running during Shutdown: their context must not end with
// the signal that started it.
func newHTTPServer(ctx context.Context, handler http.Handler, nl netlimit.Options, log *slog.Logger) *http.Server {
	srv := netlimit.NewServer(handler, nl)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	return srv
}

// listenUntil serves on ln until ctx ends, then finishes the requests in
// flight, within shutdownTimeout.
func listenUntil(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
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

// closeRepo pushes what is pending, within repoCloseTimeout, then keeps
// the media index for the next start.
func closeRepo(r *repo.Repo, media *index.Index, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), repoCloseTimeout)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		log.Warn("repository closed with commits not yet pushed; they go out at the next start", "err", err)
	}
	// Closed, the repository has delivered every notice: the index is
	// what the branch holds, and the next start can read it from one file.
	if err := media.Save(context.Background(), r); err != nil {
		log.Warn("media index not kept for the next start", "err", err)
	}
}

// closeLive saves which uploads are still to be polled, for the next start.
func closeLive(c *live.Checker, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), hooksCloseTimout)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		log.Warn("live check state not saved", "err", err)
	}
}

// closeHooks delivers the queued hook events, within hooksCloseTimout.
func closeHooks(h *hooks.Runner, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), hooksCloseTimout)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		log.Warn("hook events not delivered before shutdown", "err", err)
	}
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
