package hooks

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxMessage caps the hook message handed to clients and logs, in runes.
const maxMessage = 200

// errHookTimeout is the cause of a run's context when the hook's own
// Timeout fired, telling it apart from the caller giving up.
var errHookTimeout = errors.New("hook timed out")

// status is how one run of a hook ended.
type status int

const (
	statusOK       status = iota
	statusRejected        // the hook ran and said no: non-zero exit, non-2xx
	statusTimeout         // the hook's Timeout fired
	statusFailed          // the hook could not run or be reached
)

// runResult is the outcome of one run (one webhook attempt).
type runResult struct {
	status  status
	retry   bool   // a webhook failure worth another attempt
	message string // the hook's first line of output, sanitized; may be empty
	err     error  // detail for the log, never for clients
}

// run runs h once for ev and records how long it took.
func (r *Runner) run(ctx context.Context, h *hook, ev Event, body []byte) runResult {
	start := time.Now()
	var res runResult
	if h.URL != "" {
		res = r.post(ctx, h, ev, body)
	} else {
		res = r.command(ctx, h, ev, body)
	}
	r.metrics.duration.WithLabelValues(h.Name, ev.Event).Observe(time.Since(start).Seconds())
	return res
}

// firstLine returns the first non-blank line of out, stripped of control
// characters and invalid UTF-8 and capped, so it is safe to show a client.
func firstLine(out []byte) string {
	s := strings.ToValidUTF8(string(out), "")
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, line)
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > maxMessage {
			line = strings.TrimSpace(string([]rune(line)[:maxMessage])) + "…"
		}
		return line
	}
	return ""
}
