package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// keyed with the hook's secret, so a receiver can check the sender.
const SignatureHeader = "X-Spano-Signature-256"

// maxBody caps the response body read for a veto message; a little more is
// drained so the connection can be reused.
const (
	maxBody   = 4 << 10
	maxDrain  = 64 << 10
	userAgent = "spano"
)

// Sign returns the SignatureHeader value for body under secret. Receivers
// written in Go can use it to verify with hmac.Equal.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one webhook attempt. Network errors, timeouts, 5xx and 429
// are worth retrying; other non-2xx answers are the receiver's verdict.
func (r *Runner) post(ctx context.Context, h *hook, ev Event, body []byte) runResult {
	ctx, cancel := context.WithTimeoutCause(ctx, h.Timeout, errHookTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return runResult{status: statusFailed, err: fmt.Errorf("post: %w", redact(err))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Spano-Event", ev.Event)
	if h.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(h.Secret, body))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if context.Cause(ctx) == errHookTimeout {
			return runResult{status: statusTimeout, retry: true, err: fmt.Errorf("post: %w", errHookTimeout)}
		}
		return runResult{status: statusFailed, retry: ctx.Err() == nil, err: fmt.Errorf("post: %w", redact(err))}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return runResult{status: statusOK}
	}
	return runResult{
		status:  statusRejected,
		retry:   resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
		message: firstLine(head),
		err:     fmt.Errorf("post: status %d", resp.StatusCode),
	}
}

// redact drops the URL from an HTTP client error: webhook URLs often hold
// their credential in the path (chat services do), and errors get logged.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", uerr.Op, uerr.Err)
	}
	return err
}
