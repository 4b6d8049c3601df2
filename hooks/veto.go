package hooks

import (
	"context"
	"fmt"
)

// VetoError is returned by Veto when an upload hook rejected the upload.
// Message is safe to show the client: the first line of the command's stderr
// (or stdout, where scanners such as clamdscan report) or of the webhook's
// body, sanitized and capped, or a generic text naming the hook.
type VetoError struct {
	Hook    string
	Message string
}

// Error names the hook, for logs; clients get Message alone.
func (e *VetoError) Error() string {
	return fmt.Sprintf("hook %s vetoed the upload: %s", e.Hook, e.Message)
}

// Veto runs the hooks subscribed to "upload" synchronously, in config order,
// before the commit. The first that rejects (command exits non-zero, URL
// answers non-2xx, timeout, or cannot start) returns a *VetoError and the
// later hooks do not run: a hook that cannot run fails closed, since a
// scanner that is down must not let files through. Webhooks get one attempt,
// because the client is waiting. If ctx ends first, Veto returns ctx's error
// wrapped, not a VetoError.
func (r *Runner) Veto(ctx context.Context, ev Event) error {
	if ev.Event == "" {
		ev.Event = EventUpload
	}
	if ev.Event != EventUpload {
		return fmt.Errorf("veto: event %q is not %q", ev.Event, EventUpload)
	}
	var body []byte
	for _, h := range r.hooks {
		if !h.events[EventUpload] {
			continue
		}
		if body == nil {
			var err error
			if body, err = r.encode(&ev); err != nil {
				return fmt.Errorf("veto: %w", err)
			}
		}
		res := r.run(ctx, h, ev, body)
		if res.status == statusOK {
			r.count(h, ev, resultOK)
			r.log.Debug("upload hook accepted", "hook", h.Name, "sha256", ev.SHA256)
			continue
		}
		if err := ctx.Err(); err != nil {
			r.count(h, ev, resultError)
			return fmt.Errorf("veto %s: %w", h.Name, err)
		}
		verr := &VetoError{Hook: h.Name, Message: res.message}
		switch res.status {
		case statusRejected:
			// A 5xx or 429 still vetoes, but it says the hook is broken or
			// overloaded, not that the file is bad: count it as an error.
			result := resultVeto
			if res.retry {
				result = resultError
			}
			r.count(h, ev, result)
			if verr.Message == "" {
				verr.Message = "upload rejected by hook " + h.Name
			}
			r.log.Warn("upload hook vetoed", "hook", h.Name, "sha256", ev.SHA256,
				"message", verr.Message, "err", res.err)
		case statusTimeout:
			r.count(h, ev, resultTimeout)
			verr.Message = fmt.Sprintf("hook %s timed out", h.Name)
			r.log.Error("upload hook timed out", "hook", h.Name, "sha256", ev.SHA256, "timeout", h.Timeout)
		default:
			r.count(h, ev, resultError)
			verr.Message = fmt.Sprintf("hook %s failed", h.Name)
			r.log.Error("upload hook failed", "hook", h.Name, "sha256", ev.SHA256, "err", res.err)
		}
		return verr
	}
	return nil
}
