package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"spano/indieauth"
)

// SessionAuth recognises the media library page's sessions; the ui
// package's *ui.Page is the real one.
type SessionAuth interface {
	// Authenticate returns the token a request's session grants. ok is
	// false when the request carries no valid session (no cookie, a
	// forged or expired one); err is set when it carries a valid session
	// but, being state-changing, not the session's CSRF token.
	Authenticate(r *http.Request) (tok indieauth.Token, ok bool, err error)
}

// errNoSession answers a request for the page's files without a session.
var errNoSession = &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized,
	Description: "sign in on the media library page first"}

// sessionGrant is a session standing for a token during one request.
type sessionGrant struct {
	bearer string // random, this request only
	token  indieauth.Token
}

type sessionGrantKey struct{}

// sessions lets the page's session stand for an access token on the
// endpoint. A request with no token of its own but a session gets, for
// its lifetime only, a random bearer token that sessionVerifier maps back
// to the session's token: the handlers extract and verify it as they do
// any token, so a session passes every check a token does (me, scopes,
// one token per request) with no change to them. A request that carries a
// token is judged by its token alone.
func (s *Server) sessions(next http.Handler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Header.Get("Authorization") != "" || r.URL.Query().Has("access_token") {
			next.ServeHTTP(w, r)
			return nil
		}
		tok, ok, err := s.session.Authenticate(r)
		if err != nil {
			return &Error{Status: http.StatusForbidden, Code: codeForbidden,
				Description: "the media library session's CSRF token is missing or wrong", Err: err}
		}
		if !ok {
			next.ServeHTTP(w, r)
			return nil
		}
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		g := &sessionGrant{bearer: hex.EncodeToString(b[:]), token: tok}
		r = r.Clone(context.WithValue(r.Context(), sessionGrantKey{}, g))
		r.Header.Set("Authorization", "Bearer "+g.bearer)
		next.ServeHTTP(w, r)
		return nil
	})
}

// sessionVerifier accepts the bearer token sessions made for this very
// request, and asks the real verifier about every other token.
type sessionVerifier struct{ next Verifier }

func (v sessionVerifier) Verify(ctx context.Context, token string) (indieauth.Token, error) {
	if g, ok := ctx.Value(sessionGrantKey{}).(*sessionGrant); ok &&
		subtle.ConstantTimeCompare([]byte(token), []byte(g.bearer)) == 1 {
		return g.token, nil
	}
	return v.next.Verify(ctx, token)
}

// serveSessionMedia is GET {UIMediaPath}/…: a committed file for the
// page's thumbnails, whether or not media.serve is on, so that they show
// before the site deploys. Only a session may read it: the file may not
// be published yet.
func (s *Server) serveSessionMedia(prefix string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, ok, err := s.session.Authenticate(r); err != nil || !ok {
			return errNoSession
		}
		r = r.Clone(r.Context())
		r.URL.Path = s.mediaURLPath + "/" + strings.TrimPrefix(r.URL.Path, prefix)
		return s.serveMedia(&privateCache{ResponseWriter: w}, r)
	}
}

// privateCache keeps a session's files out of shared caches: serveMedia
// says public, which is right for the site's URLs only.
type privateCache struct {
	http.ResponseWriter
	wrote bool
}

func (p *privateCache) WriteHeader(status int) {
	if !p.wrote {
		p.wrote = true
		p.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
		p.Header().Add("Vary", "Cookie")
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *privateCache) Write(b []byte) (int, error) {
	if !p.wrote { // net/http would send 200 now
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}
