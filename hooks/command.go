package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// maxOutput caps what is kept of a command's stdout and of its stderr;
	// the rest is read and discarded so the command never blocks on a pipe.
	maxOutput = 64 << 10
	// defaultWaitDelay bounds the wait for output pipes after the command exited or
	// was killed: a daemonized grandchild may keep them open for ever.
	defaultWaitDelay = time.Second
)

// eventVars are the variables set from the event; stale copies in the base
// environment are removed so a hook never sees another event's values.
var eventVars = []string{
	"SPANO_EVENT", "SPANO_URL", "SPANO_SHA256", "SPANO_PATH", "SPANO_TYPE", "SPANO_COMMIT", "SPANO_FILE",
}

// withoutEventVars copies base without the event variables.
func withoutEventVars(base []string) []string {
	env := make([]string, 0, len(base))
outer:
	for _, kv := range base {
		for _, name := range eventVars {
			if strings.HasPrefix(kv, name+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return env
}

// commandEnv is the base environment plus the event's variables;
// SPANO_FILE is only given to upload hooks.
func (r *Runner) commandEnv(ev Event) []string {
	env := make([]string, 0, len(r.env)+len(eventVars))
	env = append(env, r.env...)
	env = append(env,
		"SPANO_EVENT="+ev.Event,
		"SPANO_URL="+ev.URL,
		"SPANO_SHA256="+ev.SHA256,
		"SPANO_PATH="+ev.Path,
		"SPANO_TYPE="+ev.Type,
		"SPANO_COMMIT="+ev.Commit,
	)
	if ev.Event == EventUpload {
		env = append(env, "SPANO_FILE="+ev.File)
	}
	return env
}

// command runs h's argv once with the event JSON on stdin. The command gets
// its own process group so that a timeout kills everything it started, not
// just the direct child.
func (r *Runner) command(ctx context.Context, h *hook, ev Event, body []byte) runResult {
	ctx, cancel := context.WithTimeoutCause(ctx, h.Timeout, errHookTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, h.Command[0], h.Command[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group id is the leader's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = r.waitDelay
	cmd.Env = r.commandEnv(ev)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr cappedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	message := firstLine(stderr.Bytes())
	if message == "" {
		message = firstLine(stdout.Bytes())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the command exited 0 but left a background process
		// holding its output open. Its verdict was success.
		return runResult{status: statusOK, message: message}
	case context.Cause(ctx) == errHookTimeout:
		return runResult{status: statusTimeout, message: message, err: fmt.Errorf("run %s: %w", h.Command[0], errHookTimeout)}
	case ctx.Err() != nil:
		return runResult{status: statusFailed, err: fmt.Errorf("run %s: %w", h.Command[0], context.Cause(ctx))}
	case errors.As(err, &exitErr):
		return runResult{status: statusRejected, message: message, err: fmt.Errorf("run %s: %w", h.Command[0], err)}
	default:
		return runResult{status: statusFailed, err: fmt.Errorf("run %s: %w", h.Command[0], err)}
	}
}

// cappedBuffer keeps the first maxOutput bytes written to it and accepts
// (and drops) the rest, so a chatty command is neither blocked nor killed
// by a broken pipe.
type cappedBuffer struct {
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns what was kept.
func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }
