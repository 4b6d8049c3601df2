package indieauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// replyLimit caps an endpoint's reply; a real one is a few hundred bytes.
	replyLimit = 64 << 10
	// maxClientID caps a client_id; real ones are a short URL.
	maxClientID = 512
)

// errRefusedToken marks an introspection endpoint answering 401 or 403 when
// we sent the token itself as credential: either the token is bad or the
// server wants a credential we do not have. It always comes wrapped
// together with ErrInvalidToken.
var errRefusedToken = errors.New("introspection endpoint refused the token as credential")

// introspect asks an IndieAuth introspection endpoint (POST token=…).
func (v *Verifier) introspect(ctx context.Context, log *slog.Logger, endpoint, token string) (Token, error) {
	log = log.With("endpoint", endpoint)
	body := strings.NewReader(url.Values{"token": {token}}.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return Token{}, fmt.Errorf("introspect: %w", err)
	}
	cred := v.bearer
	if cred == "" {
		cred = token // what servers without resource-server credentials expect
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	status, ctype, reply, err := v.do(req)
	switch {
	case err != nil:
		log.Warn("introspection endpoint unreachable", "error", err)
		return Token{}, fmt.Errorf("introspect: %w: %w", ErrUnavailable, err)
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && v.bearer != "":
		log.Error("introspection endpoint refused our credential: check auth.introspection_bearer", "status", status)
		return Token{}, fmt.Errorf("introspect: status %d: %w", status, ErrMisconfigured)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		log.Warn("introspection endpoint refused the token as its credential: the token is bad, or the endpoint wants auth.introspection_bearer",
			"status", status)
		return Token{}, fmt.Errorf("introspect: status %d: %w: %w", status, errRefusedToken, ErrInvalidToken)
	case status == http.StatusBadRequest:
		log.Debug("introspection endpoint rejected the token", "status", status)
		return Token{}, fmt.Errorf("introspect: status %d: %w", status, ErrInvalidToken)
	case status != http.StatusOK:
		log.Warn("introspection endpoint failed", "status", status)
		return Token{}, fmt.Errorf("introspect: status %d: %w", status, ErrUnavailable)
	}
	r, err := parseReply(ctype, reply)
	if err != nil {
		log.Warn("introspection endpoint gave an unusable reply", "content_type", ctype, "error", err)
		return Token{}, fmt.Errorf("introspect: %w: %w", ErrUnavailable, err)
	}
	if r.active == nil || !*r.active {
		// A 200 alone proves nothing: only "active": true does.
		log.Debug("token inactive", "error_code", r.errCode)
		return Token{}, fmt.Errorf("introspect: token inactive: %w", ErrInvalidToken)
	}
	return tokenFrom(r), nil
}

// verifyLegacy asks a token endpoint the pre-2020 way: GET with the token
// as Bearer credential.
func (v *Verifier) verifyLegacy(ctx context.Context, log *slog.Logger, endpoint, token string) (Token, error) {
	log = log.With("endpoint", endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return Token{}, fmt.Errorf("token endpoint: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	status, ctype, reply, err := v.do(req)
	switch {
	case err != nil:
		log.Warn("token endpoint unreachable", "error", err)
		return Token{}, fmt.Errorf("token endpoint: %w: %w", ErrUnavailable, err)
	case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
		// All three are used for a bad token; one endpoint answers
		// 400 error=unauthorized.
		log.Debug("token endpoint rejected the token", "status", status)
		return Token{}, fmt.Errorf("token endpoint: status %d: %w", status, ErrInvalidToken)
	case status != http.StatusOK:
		log.Warn("token endpoint failed", "status", status)
		return Token{}, fmt.Errorf("token endpoint: status %d: %w", status, ErrUnavailable)
	}
	r, err := parseReply(ctype, reply)
	if err != nil {
		log.Warn("token endpoint gave an unusable reply", "content_type", ctype, "error", err)
		return Token{}, fmt.Errorf("token endpoint: %w: %w", ErrUnavailable, err)
	}
	if r.errCode != "" || (r.active != nil && !*r.active) {
		log.Debug("token endpoint rejected the token", "status", status, "error_code", r.errCode)
		return Token{}, fmt.Errorf("token endpoint: token rejected: %w", ErrInvalidToken)
	}
	return tokenFrom(r), nil
}

// tokenFrom turns a positive reply into a Token. A me that is missing or no
// URL becomes "", which matches no auth.me and so is forbidden.
func tokenFrom(r reply) Token {
	me, err := CanonicalMe(r.me)
	if err != nil {
		me = ""
	}
	return Token{Me: me, ClientID: cleanClientID(r.clientID), Scopes: r.scopes, Expires: r.exp}
}

// do sends a request and reads at most replyLimit bytes of the reply. A
// larger reply is an error: no endpoint needs that much to say yes.
func (v *Verifier) do(req *http.Request) (status int, contentType string, body []byte, err error) {
	return readReply(v.client, req)
}

// readReply is do for any client: the sign-in client reads its
// endpoints' replies under the same limit.
func readReply(client *http.Client, req *http.Request) (status int, contentType string, body []byte, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, replyLimit+1))
	if err != nil {
		return 0, "", nil, fmt.Errorf("read reply: %w", err)
	}
	if len(body) > replyLimit {
		return 0, "", nil, fmt.Errorf("reply larger than %d bytes", replyLimit)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

// checkRedirect follows at most maxRedirects redirects, never carries a
// credential to a plain-http address off this machine, and never takes a
// token to another host than the endpoint's.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if err := defaultCheckRedirect(via); err != nil {
		return err
	}
	if via[0].Header.Get("Authorization") != "" {
		if err := checkEndpoint(req.URL.String()); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
	}
	return sameHostWithToken(req, via)
}

func defaultCheckRedirect(via []*http.Request) error {
	if len(via) > maxRedirects { // via holds the first request too
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// sameHostWithToken refuses a redirect of a request carrying a token (in
// Authorization, or in the body of an introspection POST, which a 307 or
// 308 re-posts) to another host than the one configured or discovered.
// net/http drops Authorization on such a redirect, but not the body.
func sameHostWithToken(req *http.Request, via []*http.Request) error {
	first := via[0]
	if first.Header.Get("Authorization") == "" && first.GetBody == nil {
		return nil
	}
	if !strings.EqualFold(req.URL.Host, first.URL.Host) || req.URL.Scheme != first.URL.Scheme {
		return fmt.Errorf("redirect from %s to another host %s: refused, it would carry the token", first.URL.Host, req.URL.Redacted())
	}
	return nil
}

// cleanClientID makes an endpoint's client_id safe to show as text: it
// ends up in the Media-Client trailer, spano log, q=source and hook
// events. Invalid UTF-8, controls (C0 and C1), format characters (bidi
// overrides and isolates, zero-width ones) and line or paragraph
// separators are dropped, and it is cut at maxClientID bytes.
func cleanClientID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	for len(s) > maxClientID {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// checkEndpoint accepts https URLs, and http ones only on loopback, where
// nobody can read the token on the wire.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("endpoint %q: not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("endpoint %s: http:// is allowed only on loopback", u.Redacted())
	default:
		return fmt.Errorf("endpoint %s: scheme must be https", u.Redacted())
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
