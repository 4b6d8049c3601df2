package repo

import (
	"errors"
	"path/filepath"
)

// ErrLocked: another process (spano serve, most likely) pushes from this
// clone. Only one may: two writers of one clone would each move its
// branch under the other.
var ErrLocked = errors.New("another spano process pushes from this repository")

// lockName is the push lock, inside the bare clone, where git ignores it.
const lockName = "spano-push.lock"

// acquire takes the clone's push lock, once; it is held until the pusher
// ends. Every push and every Unblock needs it.
func (p *pusher) acquire() error {
	if p.lock != nil || p.lockless {
		return nil
	}
	f, err := lockFile(filepath.Join(p.r.opts.Path, lockName))
	if err != nil {
		return err
	}
	if f == nil {
		p.lockless = true // no locks on this system
		return nil
	}
	p.lock = f
	return nil
}

// release drops the push lock.
func (p *pusher) release() {
	if p.lock != nil {
		p.lock.Close()
		p.lock = nil
	}
}
