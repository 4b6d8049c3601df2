package repo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// open starts a receive-pack session and reads the remote's branch head
// (zero when the remote has no such branch).
func (p *pusher) open(ctx context.Context) (transport.ReceivePackSession, plumbing.Hash, *capability.List, error) {
	ep, err := transport.NewEndpoint(p.r.opts.Remote)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("remote: %w", err)
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("remote: %w", err)
	}
	sess, err := c.NewReceivePackSession(ep, p.r.auth)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("connect: %w", err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("connect: %w", err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		sess.Close()
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("read remote refs: %w", err)
	}
	var head plumbing.Hash
	if ref, err := refs.Reference(p.r.branch); err == nil {
		head = ref.Hash()
	}
	return sess, head, adv.Capabilities, nil
}

// fetchAndReapply fetches the remote's branch and has the writer put the
// unpushed commits on top of it.
func (p *pusher) fetchAndReapply(ctx context.Context, tracked plumbing.Hash) error {
	// The file system's clock, not the injected one: packs are told
	// apart by their modification time. A second of slack covers its
	// coarse timestamps.
	started := time.Now().Add(-time.Second)
	remote := git.NewRemote(p.st, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{p.r.opts.Remote}})
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec("+" + p.r.branch.String() + ":" + fetchedRef.String())},
		Auth:       p.r.auth,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch %s: %w", p.r.opts.Branch, err)
	}
	fetched, err := refHash(p.st, fetchedRef)
	if err != nil || fetched.IsZero() {
		return fmt.Errorf("fetch %s: no fetched head: %v", p.r.opts.Branch, err)
	}
	if err := syncPacks(p.r.opts.Syncer, p.r.opts.Path, started); err != nil {
		return err
	}
	foreign, err := p.foreign(tracked, fetched)
	if err != nil {
		return err
	}
	type reply struct {
		head plumbing.Hash
		err  error
	}
	rep, err := call(ctx, p.r.internal, func(w *writer) reply {
		h, err := w.reapply(fetched)
		return reply{h, err}
	})
	if err != nil {
		return err
	}
	if rep.err != nil {
		return fmt.Errorf("re-apply onto %.12s: %w", fetched, rep.err)
	}
	p.r.log.Info("remote moved; re-applied unpushed commits", "remote_head", fetched.String(), "foreign_commits", len(foreign), "head", rep.head.String())
	if len(foreign) > 0 {
		p.notify(Notice{Kind: NoticeFetched, Commits: foreign})
	}
	return nil
}

// foreign lists the commits the fetch brought, oldest first: the
// first-parent line from fetched back to what spano knew of the remote.
func (p *pusher) foreign(tracked, fetched plumbing.Hash) ([]CommitInfo, error) {
	infos, err := line(p.st, fetched, tracked, 10000)
	if err != nil {
		return nil, fmt.Errorf("read fetched commits: %w", err)
	}
	return infos, nil
}

// pushed records the remote's new head with the writer and reports the
// commits that went out.
func (p *pusher) pushed(ctx context.Context, head plumbing.Hash) error {
	type reply struct {
		commits []CommitInfo
		err     error
	}
	rep, err := call(ctx, p.r.internal, func(w *writer) reply {
		c, err := w.pushed(head)
		return reply{c, err}
	})
	if err != nil {
		return err
	}
	if rep.err != nil {
		return rep.err
	}
	if len(rep.commits) > 0 {
		p.r.log.Info("pushed", "commits", len(rep.commits), "head", head.String())
		p.notify(Notice{Kind: NoticePushed, Commits: rep.commits, Duration: p.since()})
	}
	return nil
}

// newObjects lists the objects of the commits after from up to to: each
// commit, and the trees and blobs it changed against its first parent.
// Only changed subtrees are read, so a push costs what the commits
// changed, not what the repository holds (go-git's own push walks the
// whole history of the remote's refs to find what to leave out).
func newObjects(st storer.EncodedObjectStorer, from, to plumbing.Hash) ([]plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(h plumbing.Hash) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	// Walking back, a commit's parent tree is the next commit's tree:
	// each tree is read once.
	trees := map[plumbing.Hash]map[string]object.TreeEntry{}
	entries := func(h plumbing.Hash) (map[string]object.TreeEntry, error) {
		if m, ok := trees[h]; ok {
			return m, nil
		}
		m, err := treeEntries(st, h)
		if err == nil {
			trees[h] = m
		}
		return m, err
	}
	var c *object.Commit
	for h := to; !h.IsZero() && h != from; {
		if c == nil || c.Hash != h {
			var err error
			if c, err = object.GetCommit(st, h); err != nil {
				return nil, fmt.Errorf("read commit %s: %w", h, err)
			}
		}
		add(h)
		var parent *object.Commit
		before := plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			var err error
			if parent, err = object.GetCommit(st, c.ParentHashes[0]); err != nil {
				return nil, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
			}
			before = parent.TreeHash
		}
		if err := changedObjects(entries, before, c.TreeHash, add); err != nil {
			return nil, err
		}
		if parent == nil {
			break
		}
		h, c = parent.Hash, parent
	}
	return out, nil
}

// changedObjects adds tree and every tree and blob under it that old
// (a tree, or zero) does not have at the same path.
func changedObjects(entries func(plumbing.Hash) (map[string]object.TreeEntry, error), old, tree plumbing.Hash, add func(plumbing.Hash)) error {
	if old == tree || tree.IsZero() {
		return nil
	}
	add(tree)
	was, err := entries(old)
	if err != nil {
		return err
	}
	now, err := entries(tree)
	if err != nil {
		return err
	}
	for name, e := range now {
		o, ok := was[name]
		if ok && o.Hash == e.Hash {
			continue
		}
		if e.Mode == filemode.Dir {
			var prev plumbing.Hash
			if ok && o.Mode == filemode.Dir {
				prev = o.Hash
			}
			if err := changedObjects(entries, prev, e.Hash, add); err != nil {
				return err
			}
			continue
		}
		if e.Mode == filemode.Submodule {
			continue
		}
		add(e.Hash)
	}
	return nil
}

// authMethod builds the transport credentials: SSH key with known_hosts,
// or HTTPS basic auth (GitHub and others take a token as the password).
func authMethod(o Options) (transport.AuthMethod, error) {
	if o.SSHKey != "" {
		user := "git"
		if ep, err := transport.NewEndpoint(o.Remote); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, o.SSHKey, "")
		if err != nil {
			return nil, fmt.Errorf("repo.ssh_key: %w", err)
		}
		if o.SSHKnownHosts == "" {
			return nil, errors.New("repo.ssh_known_hosts: required with repo.ssh_key")
		}
		cb, err := gitssh.NewKnownHostsCallback(o.SSHKnownHosts)
		if err != nil {
			return nil, fmt.Errorf("repo.ssh_known_hosts: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	if o.Username != "" || o.Password != "" {
		user := o.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: o.Password}, nil
	}
	return nil, nil
}

// RedactURL drops credentials from a remote URL for logs: the one rule,
// for the repository's own log lines and its callers'.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
