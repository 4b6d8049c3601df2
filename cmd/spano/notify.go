package main

import (
	"log/slog"

	"spano/hooks"
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
		path := record.Original(l, c.Added)
		if path == "" {
			path = record.Original(l, c.Deleted)
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
