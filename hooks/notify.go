package hooks

import (
	"context"
	"fmt"
	"time"
)

// Notify queues a post-event (stored, pushed, push_failed, deleted) for the
// hooks subscribed to it and returns at once. It never blocks: when a hook's
// queue is full, or the Runner is closed, the event is dropped for that hook
// with an Error log and a "dropped" count, never silently.
func (r *Runner) Notify(ev Event) {
	if !postEvents[ev.Event] {
		r.log.Error("notify: not a post-event, ignored", "event", ev.Event)
		return
	}
	var body []byte
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, h := range r.hooks {
		if !h.events[ev.Event] {
			continue
		}
		if body == nil {
			var err error
			if body, err = r.encode(&ev); err != nil {
				r.log.Error("notify: event not sent", "event", ev.Event, "err", err)
				return
			}
		}
		if r.closed {
			r.drop(h, ev, "runner closed")
			continue
		}
		select {
		case h.queue <- &delivery{ev: ev, body: body}:
		default:
			r.drop(h, ev, "queue full")
		}
	}
}

// Close stops accepting events and waits until the queued ones have been
// delivered or ctx is done. If ctx ends first, running hooks are cancelled,
// the events still queued are dropped (logged and counted), and ctx's error
// is returned once the workers have stopped.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		for _, h := range r.hooks {
			if h.queue != nil {
				close(h.queue)
			}
		}
	}
	r.mu.Unlock()

	select {
	case <-r.done:
		r.cancel()
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.done
		return fmt.Errorf("close hooks: %w", ctx.Err())
	}
}

// worker delivers h's events one at a time, which is what keeps them in
// order for h; the shared semaphore bounds how many hooks run at once.
func (r *Runner) worker(h *hook) {
	defer r.wg.Done()
	for d := range h.queue {
		if r.ctx.Err() != nil {
			r.drop(h, d.ev, "shutting down")
			continue
		}
		r.deliver(h, d)
	}
}

// deliver runs h for one event: webhooks up to r.retries attempts with
// backoff, commands once since they may not be idempotent.
func (r *Runner) deliver(h *hook, d *delivery) {
	attempts := 1
	if h.URL != "" {
		attempts = r.retries
	}
	for attempt := 1; ; attempt++ {
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			r.drop(h, d.ev, "shutting down")
			return
		}
		res := r.run(r.ctx, h, d.ev, d.body)
		<-r.sem

		switch {
		case res.status == statusOK:
			r.count(h, d.ev, resultOK)
			r.log.Debug("hook ran", "hook", h.Name, "event", d.ev.Event, "sha256", d.ev.SHA256, "attempt", attempt)
			return
		case r.ctx.Err() != nil:
			r.drop(h, d.ev, "cancelled at shutdown")
			return
		case !res.retry || attempt >= attempts:
			result := resultError
			if res.status == statusTimeout {
				result = resultTimeout
			}
			r.count(h, d.ev, result)
			r.log.Error("hook failed", "hook", h.Name, "event", d.ev.Event, "sha256", d.ev.SHA256,
				"attempts", attempt, "message", res.message, "err", res.err)
			return
		}
		wait := r.backoff(attempt)
		r.log.Warn("hook attempt failed, retrying", "hook", h.Name, "event", d.ev.Event,
			"sha256", d.ev.SHA256, "attempt", attempt, "retry_in", wait, "err", res.err)
		if !sleep(r.ctx, wait) {
			r.drop(h, d.ev, "cancelled at shutdown")
			return
		}
	}
}

// drop records an event that h will never see.
func (r *Runner) drop(h *hook, ev Event, why string) {
	r.count(h, ev, resultDropped)
	r.log.Error("hook event dropped", "hook", h.Name, "event", ev.Event, "sha256", ev.SHA256,
		"commit", ev.Commit, "reason", why)
}

// sleep waits for d and reports whether ctx was still alive at the end.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
