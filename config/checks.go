package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The checks of single values that the sections' validate methods share:
// addresses, URLs, paths, names and scopes.

func checkListen(p *problems, key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "must be host:port, like \"127.0.0.1:8080\", got %q", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(key, "port must be a number 0 to 65535, got %q", port)
	}
}

// checkHTTPURL reports whether s is an absolute http(s) URL, returning it
// parsed when it is.
func checkHTTPURL(p *problems, key, s string) *url.URL {
	if s == "" {
		p.add(key, "must be set to an absolute http(s) URL")
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		p.add(key, "must be an absolute http(s) URL, got %q", s)
		return nil
	}
	return u
}

// checkBaseURL checks a URL that paths are appended to.
func checkBaseURL(p *problems, key, s string) {
	u := checkHTTPURL(p, key, s)
	if u == nil {
		return
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.add(key, "must be a plain base URL without user, query or fragment, got %q", s)
	}
}

// checkEndpoint requires https for token endpoints, since the token
// travels to them, except on loopback where it does not leave the host.
func checkEndpoint(p *problems, key, s string) {
	u := checkHTTPURL(p, key, s)
	if u != nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		p.add(key, "must use https (http only on loopback), got %q", s)
	}
}

// isLoopback covers localhost, 127.0.0.0/8 and ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkOrigin(p *problems, key, s string) {
	if s == "*" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		p.add(key, "must be \"*\" or an origin like \"https://example.com\", got %q", s)
	}
}

// checkURLPath wants an absolute, clean path: "/media", not "media" or "/media/".
func checkURLPath(p *problems, key, s string) {
	switch {
	case !strings.HasPrefix(s, "/"):
		p.add(key, "must start with \"/\", got %q", s)
	case path.Clean(s) != s || strings.ContainsAny(s, "?#"):
		p.add(key, "must be a clean path without trailing slash, query or fragment, got %q", s)
	}
}

// checkRepoDir wants a folder inside the repository, written with slashes.
func checkRepoDir(p *problems, key, s string) {
	switch {
	case s == "":
		p.add(key, "must be set")
	case path.IsAbs(s) || strings.Contains(s, "\\"):
		p.add(key, "must be a relative path with \"/\" separators, got %q", s)
	case s == "." || s == ".." || strings.HasPrefix(s, "../"):
		p.add(key, "must be a folder inside the repository, got %q", s)
	case path.Clean(s) != s:
		p.add(key, "must be a clean path (no \"..\", \".\", \"//\" or trailing \"/\"), got %q", s)
	case slices.ContainsFunc(strings.Split(s, "/"), func(e string) bool { return strings.EqualFold(e, ".git") }):
		p.add(key, "must not contain a .git folder, got %q", s)
	}
}

// checkRemote accepts a URL of a scheme git speaks, scp-like host:path, or a
// local path; it refuses only what cannot be a remote.
func checkRemote(p *problems, key, s string) {
	if s == "" {
		return
	}
	if strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\r\n") {
		p.add(key, "must be a URL, host:path or path, got %q", s)
		return
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		switch scheme {
		case "https", "http", "ssh", "git", "file":
		default:
			p.add(key, "unsupported scheme %q (use https, http, ssh, git or file)", scheme)
		}
	}
}

// checkIdent refuses what git cannot write in an author line.
func checkIdent(p *problems, key, s string) {
	if strings.TrimSpace(s) == "" {
		p.add(key, "must be set")
	} else if strings.ContainsAny(s, "<>\n\r\x00") {
		p.add(key, "must not contain <, > or line breaks, got %q", s)
	}
}

func checkScopes(p *problems, key string, scopes []string) {
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			p.add(fmt.Sprintf("%s[%d]", key, i), "must be one scope word, got %q", s)
		}
	}
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// checkBranch applies git check-ref-format's rules to refs/heads/<name>.
func checkBranch(name string) error {
	bad := func(why string) error { return fmt.Errorf("invalid branch name %q: %s", name, why) }
	switch {
	case name == "":
		return errors.New("must be set")
	case name == "@" || name == "HEAD":
		return bad("reserved name")
	case strings.HasPrefix(name, "-"):
		return bad("starts with -")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return bad("empty path component")
	case strings.HasSuffix(name, "."):
		return bad("ends with .")
	case strings.Contains(name, "..") || strings.Contains(name, "@{"):
		return bad(`contains ".." or "@{"`)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("contains %q", r))
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad(`a component starts with "." or ends with ".lock"`)
		}
	}
	return nil
}
