package main

import (
	"log/slog"
	"strconv"
	"strings"

	"spano/config"
	"spano/hashstore"
	"spano/hooks"
	"spano/repo"
)

// sitePublisher turns repository paths into the URLs the site publishes.
type sitePublisher struct {
	store *hashstore.Store
	base  string // site.url + media.url_path, no trailing slash
}

func publishBase(cfg config.Config) string {
	return strings.TrimRight(cfg.Site.URL, "/") + "/" + strings.Trim(cfg.Media.URLPath, "/")
}

// url is the published URL of repoPath, "" when it is not a media path.
func (p sitePublisher) url(repoPath string) string {
	rel := p.store.URLPath(repoPath)
	if rel == "" {
		return ""
	}
	return strings.TrimSuffix(p.base, "/") + "/" + rel
}

// original finds the original among a commit's paths: the one media path
// that is not a thumbnail.
func (p sitePublisher) original(paths []string) string {
	for _, path := range paths {
		if ref, err := p.store.Parse(p.store.URLPath(path)); err == nil && ref.Width == 0 {
			return path
		}
	}
	return ""
}

// notifyHooks turns what the repository's pusher reports into hook events:
// one pushed or push_failed event per commit, described by its trailers.
func notifyHooks(h *hooks.Runner, site sitePublisher, log *slog.Logger, n repo.Notice) {
	var event, errText string
	switch n.Kind {
	case repo.NoticePushed:
		event = hooks.EventPushed
	case repo.NoticePushFailed:
		// The cause may name the remote with its credentials; hooks get a
		// fixed text and the log the detail.
		event, errText = hooks.EventPushFailed, "push to the remote failed; it will be retried"
		log.Warn("push failed", "commits", len(n.Commits), "err", n.Err)
	case repo.NoticeFetched:
		log.Info("fetched commits made elsewhere", "commits", len(n.Commits))
		return
	default:
		return
	}
	for _, c := range n.Commits {
		path := site.original(c.Added)
		if path == "" {
			path = site.original(c.Deleted)
		}
		size, _ := strconv.ParseInt(c.Message.Value("Media-Size"), 10, 64)
		h.Notify(hooks.Event{
			Event: event, Time: c.Time, Commit: c.Hash, Error: errText,
			URL: site.url(path), Path: path,
			SHA256:   c.Message.Value("Media-SHA256"),
			Type:     c.Message.Value("Media-Type"),
			Size:     size,
			Filename: c.Message.Value("Media-Filename"),
			Client:   c.Message.Value("Media-Client"),
		})
	}
}
