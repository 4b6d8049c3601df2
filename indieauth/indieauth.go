// Package indieauth finds the access token in a Micropub request and checks
// it the way the owner's own Micropub endpoint would: against static tokens
// kept as SHA-256 digests, an IndieAuth introspection endpoint, or a legacy
// token endpoint, the latter two configured or discovered from the owner's
// site. Real endpoints disagree with the specification in many small ways;
// each quirk handled here has a test that imitates it.
//
// Verified tokens are cached by a hash of the token, never by the token, and
// no token, Authorization header or endpoint reply body is ever logged.
package indieauth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Errors returned by Extract and Verify. The server maps each to one HTTP
// status; callers test them with errors.Is because they arrive wrapped.
var (
	// ErrNoToken: the request carries no token (401 unauthorized).
	ErrNoToken = errors.New("no access token")
	// ErrMultipleTokens: the request carries a token in more than one place,
	// which RFC 6750 forbids (400 invalid_request).
	ErrMultipleTokens = errors.New("access token in more than one place")
	// ErrInvalidToken: the token is unknown, inactive, expired or malformed
	// (401 invalid_token).
	ErrInvalidToken = errors.New("invalid access token")
	// ErrForbidden: the token is valid but was issued for another site than
	// auth.me (403 forbidden).
	ErrForbidden = errors.New("access token is for another site")
	// ErrUnavailable: the endpoint that could decide is unreachable, slow,
	// failing or answering nonsense, or discovery has not succeeded yet
	// (503 temporarily_unavailable). Nothing is cached for such an answer.
	ErrUnavailable = errors.New("token endpoint unavailable")
	// ErrMisconfigured: the introspection endpoint refused our own
	// credential, auth.introspection_bearer; only the operator can fix it
	// (500).
	ErrMisconfigured = errors.New("introspection endpoint refused our credential")
)

// Token is what a verified access token grants.
type Token struct {
	Me       string    // the site the token was issued for, canonical (see CanonicalMe)
	ClientID string    // the client that asked for it; "" when unknown
	Scopes   []string  // whole scope words
	Expires  time.Time // zero when no expiry is known
}

// HasAnyScope reports whether the token has at least one of scopes, compared
// as whole words so that "repost" does not grant "post". An empty list is
// never satisfied: a server that asks for nothing should not call it.
func (t Token) HasAnyScope(scopes []string) bool {
	for _, s := range scopes {
		if s != "" && slices.Contains(t.Scopes, s) {
			return true
		}
	}
	return false
}

// splitScope turns a scope value into words. The specification says
// space-separated; some endpoints use commas, or both ("create, media").
func splitScope(s string) []string {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r'
	})
	out := make([]string, 0, len(words))
	for _, w := range words {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// CanonicalMe returns the form of a profile URL in which two URLs naming the
// same site compare equal: scheme and host lower-case, default port dropped,
// an empty path made "/", no fragment. The rest of the URL, path included,
// is kept as it is, so https://example.com/alice/ and
// https://example.com/bob/ stay different sites.
func CanonicalMe(u string) (string, error) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return "", fmt.Errorf("canonical me: %w", err)
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("canonical me %q: scheme must be http or https", u)
	}
	if p.User != nil {
		return "", fmt.Errorf("canonical me %q: must not contain a user name or password", u)
	}
	host := strings.ToLower(p.Hostname())
	if host == "" {
		return "", fmt.Errorf("canonical me %q: no host", u)
	}
	port := p.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal without a port
	}
	c := url.URL{Scheme: scheme, Host: host, RawQuery: p.RawQuery, ForceQuery: p.ForceQuery}
	c.Path, c.RawPath = p.Path, p.RawPath
	if c.Path == "" {
		c.Path, c.RawPath = "/", ""
	}
	return c.String(), nil
}
