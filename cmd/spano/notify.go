package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

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
	case repo.NoticePushBlocked:
		// The reason is the remote's own message, credentials removed.
		event, errText = hooks.EventPushFailed, "the remote refuses this commit for good; spano unblock drops it"
		var be *repo.PushBlockedError
		if errors.As(n.Err, &be) {
			errText = "the remote refuses this commit: " + be.Reason + "; spano unblock drops it"
		}
	case repo.NoticePushFailed:
		// The cause may name the remote with its credentials; hooks get a
		// fixed text and the log the detail.
		event, errText = hooks.EventPushFailed, "push to the remote failed; it will be retried"
		if errors.Is(n.Err, repo.ErrPushBlocked) {
			errText = "waiting behind a commit the remote refuses; spano unblock drops it"
		}
		log.Warn("push failed", "commits", len(n.Commits), "err", n.Err)
	case repo.NoticeFetched:
		log.Info("fetched commits made elsewhere", "commits", len(n.Commits))
		return
	default:
		return
	}
	for _, c := range n.Commits {
		path := record.Original(l, c, c.Added)
		if path == "" {
			path = record.Original(l, c, c.Deleted)
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
		if rec, ok := record.FromCommit(commit, l, record.Original(l, commit, commit.Added)); ok && rec.Size >= 0 && watch {
			items = append(items, live.Item{SHA256: rec.SHA256, URL: rec.URL, Size: rec.Size, Committed: commit.Time})
		}
		if rec, ok := record.FromCommit(commit, l, record.Original(l, commit, commit.Deleted)); ok && n.Kind == repo.NoticeCommitted {
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

// published is the hook event of an upload the site now serves.
func published(h *hooks.Runner, it live.Item) {
	h.Notify(hooks.EventOf(hooks.EventPublished, record.Record{URL: it.URL, SHA256: it.SHA256, Size: it.Size}, "", time.Now()))
}

// watchSize measures the media in the repository at start and, at most
// once a second, after commits, off the repository's goroutines; the
// SizeWarning logs when it passes repo.warn_size. The returned kick asks
// for a measure and never blocks.
func watchSize(ctx context.Context, sw *repo.SizeWarning, r *repo.Repo, dir string, log *slog.Logger) (kick func()) {
	kicks := make(chan struct{}, 1)
	kick = func() {
		select {
		case kicks <- struct{}{}:
		default:
		}
	}
	go func() {
		for {
			if _, err := sw.Measure(ctx, r, dir); err != nil && ctx.Err() == nil {
				log.Warn("cannot measure the media in the repository", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			select {
			case <-ctx.Done():
				return
			case <-kicks:
			}
		}
	}()
	return kick
}
