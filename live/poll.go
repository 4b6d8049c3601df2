package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// prefix is an allowed URL prefix: scheme and host equal, path equal or
// below.
type prefix struct {
	scheme, host, path string // path without a trailing slash
}

func parsePrefixes(raw []string) ([]prefix, error) {
	var out []prefix
	for _, r := range raw {
		if r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("allowed prefix %q: want an http or https URL with a host and no query", r)
		}
		out = append(out, prefix{scheme: u.Scheme, host: strings.ToLower(u.Host), path: strings.TrimRight(u.Path, "/")})
	}
	if len(out) == 0 {
		return nil, errors.New("no allowed prefix: nothing may be polled")
	}
	return out, nil
}

// allowedURL refuses a URL that is not under one of the allowed
// prefixes, or that could leave them: user info, or dot segments.
func (c *Checker) allowedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAllowed, err)
	}
	return c.allowed1(u)
}

func (c *Checker) allowed1(u *url.URL) error {
	if u.User != nil || u.Opaque != "" {
		return ErrNotAllowed
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if path.Clean(p) != p && path.Clean(p)+"/" != p {
		return fmt.Errorf("%w: dot segments in %q", ErrNotAllowed, u.Path)
	}
	host := strings.ToLower(u.Host)
	for _, a := range c.allowed {
		if u.Scheme == a.scheme && host == a.host && (p == a.path || strings.HasPrefix(p, a.path+"/")) {
			return nil
		}
	}
	return ErrNotAllowed
}

// newClient is base (or a default client) with a redirect policy of the
// checker's own: at most five, never off the allowed prefixes.
func (c *Checker) newClient(base *http.Client) *http.Client {
	var cl http.Client
	if base != nil {
		cl = *base
	}
	cl.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if err := c.allowed1(req.URL); err != nil {
			return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
		}
		return nil
	}
	return &cl
}

// startPoll starts e's poll. The caller holds c.mu.
func (c *Checker) startPoll(e *Entry) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.polls[e.SHA256] = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		c.poll(ctx, e)
		c.mu.Lock()
		if c.entries[e.SHA256] == e {
			delete(c.polls, e.SHA256)
		}
		c.mu.Unlock()
	}()
}

// poll asks e's URL, with growing pauses, until it serves the file or
// the deadline passes. A cancelled ctx leaves e pending.
func (c *Checker) poll(ctx context.Context, e *Entry) {
	delay := c.opts.FirstDelay
	headRefused := false
	last := "not polled"
	for {
		wait := min(delay, max(e.Deadline.Sub(c.opts.Now()), 0))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		ok, why := c.probe(ctx, e.Item, &headRefused)
		<-c.sem
		if ctx.Err() != nil {
			return
		}
		if ok {
			if err := c.becameLive(e); err != nil {
				c.log.Error("save live state", "err", err)
			}
			return
		}
		last = why
		c.log.Debug("not live yet", "url", e.URL, "why", why, "next", delay)
		if !c.opts.Now().Before(e.Deadline) {
			c.giveUp(e, last)
			return
		}
		delay = min(2*delay, c.opts.MaxDelay)
	}
}

// probe asks once whether it.URL serves it.Size bytes: HEAD, or where
// HEAD is refused a GET of its first byte. It says why not otherwise.
func (c *Checker) probe(ctx context.Context, it Item, headRefused *bool) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	if !*headRefused {
		resp, err := c.do(ctx, http.MethodHead, it.URL)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusMethodNotAllowed, http.StatusNotImplemented:
			*headRefused = true
		case http.StatusOK:
			if resp.ContentLength != it.Size {
				return false, fmt.Sprintf("HEAD: %d bytes, want %d", resp.ContentLength, it.Size)
			}
			return true, ""
		default:
			return false, "HEAD: " + resp.Status
		}
	}
	resp, err := c.do(ctx, http.MethodGet, it.URL)
	if err != nil {
		return false, err.Error()
	}
	// One byte is asked for; a server that ignores Range sends it all,
	// which is not read.
	io.CopyN(io.Discard, resp.Body, 1)
	resp.Body.Close()
	var size int64
	switch resp.StatusCode {
	case http.StatusPartialContent:
		size = rangeTotal(resp.Header.Get("Content-Range"))
	case http.StatusOK:
		size = resp.ContentLength
	default:
		return false, "GET: " + resp.Status
	}
	if size != it.Size {
		return false, fmt.Sprintf("GET: %d bytes, want %d", size, it.Size)
	}
	return true, ""
}

// do sends one request. Accept-Encoding is identity so that the size the
// server states is the file's, not a compressed body's.
func (c *Checker) do(ctx context.Context, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "spano-live-check")
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-0")
	}
	return c.client.Do(req)
}

// rangeTotal is the complete length in a Content-Range header
// ("bytes 0-0/1234"), or -1.
func rangeTotal(h string) int64 {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return -1
	}
	_, total, ok := strings.Cut(rest, "/")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
