package main

import (
	"log/slog"

	"spano/hashstore"
	"spano/hooks"
	"spano/live"
	"spano/record"
	"spano/repo"
)

// notifyHooks turns what the repository's pusher reports into hook events:
// one pushed or push_failed event per commit, described by its record.
func notifyHooks(h *hooks.Runner, l record.Layout, log *slog.Logger, n repo.Notice) {
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
		path := originalOf(l, c, c.Added)
		if path == "" {
			path = originalOf(l, c, c.Deleted)
		}
		// A commit that is not an upload (a person's change to the site)
		// is still an event, so that a rebuild hook fires for it.
		rec, _ := record.FromCommit(c, l, path)
		if rec.Size < 0 {
			rec.Size = 0
		}
		ev := hooks.EventOf(event, rec, c.Hash, c.Time)
		ev.Error = errText
		h.Notify(ev)
	}
}

// watchLive hands the live check each upload the remote now has: it polls
// the upload's URL until the site serves it. When spano serves the site
// itself (media.serve, site.url = base_url) an upload is live once
// committed. A deleted upload is forgotten. It never blocks the
// repository's goroutine: the checker's journal writes happen beside it.
func watchLive(c *live.Checker, l record.Layout, selfServed bool, log *slog.Logger, n repo.Notice) {
	if c == nil {
		return
	}
	watch := n.Kind == repo.NoticePushed || (selfServed && n.Kind == repo.NoticeCommitted)
	var items []live.Item
	var gone []string
	for _, commit := range n.Commits {
		if rec, ok := record.FromCommit(commit, l, originalOf(l, commit, commit.Added)); ok && rec.Size >= 0 && watch {
			items = append(items, live.Item{SHA256: rec.SHA256, URL: rec.URL, Size: rec.Size, Committed: commit.Time})
		}
		if rec, ok := record.FromCommit(commit, l, originalOf(l, commit, commit.Deleted)); ok && n.Kind == repo.NoticeCommitted {
			gone = append(gone, rec.SHA256)
		}
	}
	if len(items)+len(gone) == 0 {
		return
	}
	go func() {
		for _, it := range items {
			mark := c.Watch
			if selfServed {
				mark = c.MarkLive
			}
			if err := mark(it); err != nil {
				log.Warn("live check: cannot watch upload", "url", it.URL, "err", err)
			}
		}
		for _, sha := range gone {
			if err := c.Forget(sha); err != nil {
				log.Warn("live check: cannot forget deleted upload", "sha256", sha, "err", err)
			}
		}
	}()
}

// originalOf is the original among paths, a commit's added or deleted
// files: a media path, or, for an offloaded upload (in the repository as
// its record only), the path its record file names by hash and its
// trailers by type.
func originalOf(l record.Layout, c repo.CommitInfo, paths []string) string {
	if p := record.Original(l, paths); p != "" {
		return p
	}
	for _, p := range paths {
		sha, ok := l.RecordHash(p)
		if !ok {
			continue
		}
		rec, ok := record.FromMessage(c.Message)
		ext, known := hashstore.ExtFor(rec.Type)
		if ok && known && rec.SHA256 == sha && rec.Storage == record.StorageS3 {
			return l.Store.Path(sha, ext)
		}
	}
	return ""
}
