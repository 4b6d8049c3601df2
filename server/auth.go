package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"spano/indieauth"
)

// caller is who sent a request, as far as the token says: raw is the token
// as sent ("" when none), tok what its endpoint said of it.
type caller struct {
	raw string
	tok indieauth.Token
}

// earlyToken checks a token sent in the header or the query, before a
// byte of the body is read, so that a bad token costs no upload. It must
// allow an upload or a delete (which one the body says).
func (s *Server) earlyToken(r *http.Request) (caller, error) {
	raw, err := indieauth.Extract(r, "")
	if err != nil || raw == "" {
		if err == indieauth.ErrNoToken {
			err = nil
		}
		return caller{}, err
	}
	tok, err := s.authorize(r.Context(), raw, s.scopes, s.deleteScopes)
	return caller{raw: raw, tok: tok}, err
}

// bodyToken is the request's one token once the body is read: the early
// one, or one sent in the body (checked now, still before any work on the
// file). A token in two places is refused.
func (s *Server) bodyToken(r *http.Request, early caller, form string) (indieauth.Token, error) {
	raw, err := indieauth.Extract(r, form)
	if err != nil {
		return indieauth.Token{}, err
	}
	if raw == early.raw {
		return early.tok, nil
	}
	return s.verify(r.Context(), raw)
}

// authorize verifies token and checks it grants a scope of the first
// list, or of any list that follows.
func (s *Server) authorize(ctx context.Context, token string, scopes ...[]string) (indieauth.Token, error) {
	tok, err := s.verify(ctx, token)
	if err != nil {
		return indieauth.Token{}, err
	}
	for _, list := range scopes {
		if tok.HasAnyScope(list) {
			return tok, nil
		}
	}
	if len(scopes) == 0 {
		return tok, nil
	}
	return indieauth.Token{}, s.needScope(tok, scopes[0])
}

// verify checks token with the verifier.
func (s *Server) verify(ctx context.Context, token string) (indieauth.Token, error) {
	tok, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return indieauth.Token{}, fmt.Errorf("verify token: %w", err)
	}
	return tok, nil
}

// needScope is the 401 insufficient_scope for a token that lacks every
// one of scopes (Micropub §3.8; micropub.rocks test 804), nil when it has
// one. The challenge names the scopes that would do.
func (s *Server) needScope(tok indieauth.Token, scopes []string) error {
	if tok.HasAnyScope(scopes) {
		return nil
	}
	want := strings.Join(scopes, " ")
	return &Error{Status: http.StatusUnauthorized, Code: codeInsufficientScope,
		Description: "the access token needs one of these scopes: " + want, Scope: want,
		Header: http.Header{"Www-Authenticate": {fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q`, want)}}}
}
