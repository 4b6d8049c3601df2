package ui

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"spano/indieauth"
)

// sessionJSON is GET {path}session: what the script needs to know. csrf
// is readable by the page's own origin only: the server never allows
// credentials cross-origin.
type sessionJSON struct {
	SignedIn   bool     `json:"signed_in"`
	Me         string   `json:"me,omitempty"`
	Scopes     []string `json:"scope,omitempty"`
	CSRF       string   `json:"csrf,omitempty"`
	Expires    string   `json:"expires,omitempty"`
	Endpoint   string   `json:"endpoint"`
	SiteMedia  string   `json:"site_media,omitempty"`
	LocalMedia string   `json:"local_media"`
	IndieAuth  bool     `json:"indieauth"`
}

func (p *Page) sessionInfo(w http.ResponseWriter, r *http.Request) {
	out := sessionJSON{Endpoint: p.endpoint, SiteMedia: p.siteMedia, LocalMedia: MediaPath(p.path),
		IndieAuth: p.signIn != nil}
	if s, ok := p.session(r); ok {
		out.SignedIn, out.Me, out.Scopes, out.CSRF = true, s.Me, s.Scopes, s.CSRF
		out.Expires = time.Unix(s.Expires, 0).UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// signInToken is POST {path}signin/token: a token typed into the form,
// checked as the endpoint would check it. The session grants the token's
// scopes and ends when the token does, if sooner.
func (p *Page) signInToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	token := r.PostFormValue("token")
	if token == "" {
		p.back(w, r, "token-missing")
		return
	}
	tok, err := p.verifier.Verify(r.Context(), token)
	switch {
	case errors.Is(err, indieauth.ErrUnavailable):
		p.log.WarnContext(r.Context(), "token sign-in: verifier unavailable", "err", err)
		p.back(w, r, "unavailable")
		return
	case err != nil:
		p.log.WarnContext(r.Context(), "token sign-in refused", "err", err)
		p.back(w, r, "token-refused")
		return
	case !tok.HasAnyScope(p.scopes):
		p.back(w, r, "token-scope")
		return
	}
	expires := p.now().Add(p.ttl)
	if !tok.Expires.IsZero() && tok.Expires.Before(expires) {
		expires = tok.Expires
	}
	p.startSession(w, tok.Scopes, expires, "token")
	p.log.InfoContext(r.Context(), "signed in with a token", "me", p.me)
	p.back(w, r, "")
}

// signInStart is GET {path}signin/indieauth: discover the owner's
// authorization endpoint and send the browser there. The state goes in a
// signed cookie, binding the callback to this browser; the PKCE verifier
// stays here.
func (p *Page) signInStart(w http.ResponseWriter, r *http.Request) {
	if p.signIn == nil {
		http.NotFound(w, r)
		return
	}
	pending, err := p.signIn.Start(r.Context())
	if err != nil {
		p.log.WarnContext(r.Context(), "indieauth sign-in: discovery failed", "me", p.me, "err", err)
		p.back(w, r, "unavailable")
		return
	}
	if !p.remember(pending) {
		p.back(w, r, "busy")
		return
	}
	expires := p.now().Add(signInTTL)
	http.SetCookie(w, p.cookie(signInCookie, p.sign(signInCookie, pending.State), p.path+"callback", expires))
	http.Redirect(w, r, pending.RedirectToURL, http.StatusSeeOther)
}

// callback is GET {path}callback: the authorization server's redirect.
// The state must be this browser's, unused and fresh; the code is
// redeemed for a me that must be auth.me.
func (p *Page) callback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, p.cookie(signInCookie, "", p.path+"callback", time.Time{}))
	var state string
	c, err := r.Cookie(signInCookie)
	if err != nil || !p.open(signInCookie, c.Value, &state) ||
		subtle.ConstantTimeCompare([]byte(state), []byte(r.URL.Query().Get("state"))) != 1 {
		p.back(w, r, "state")
		return
	}
	pending, ok := p.take(state)
	if !ok {
		p.back(w, r, "state") // used already, or expired
		return
	}
	me, err := p.signIn.Finish(r.Context(), pending, r.URL.Query())
	if err != nil {
		p.log.WarnContext(r.Context(), "indieauth sign-in refused", "err", err)
		if errors.Is(err, indieauth.ErrUnavailable) {
			p.back(w, r, "unavailable")
		} else {
			p.back(w, r, "indieauth-refused")
		}
		return
	}
	p.startSession(w, slices.Clone(p.ownerScopes), p.now().Add(p.ttl), "indieauth")
	p.log.InfoContext(r.Context(), "signed in with indieauth", "me", me)
	p.back(w, r, "")
}

// signOut is POST {path}signout, with the CSRF token.
func (p *Page) signOut(w http.ResponseWriter, r *http.Request) {
	if s, ok := p.session(r); ok && !p.checkCSRF(s, r.Header.Get(CSRFHeader)) {
		http.Error(w, ErrCSRF.Error(), http.StatusForbidden)
		return
	}
	http.SetCookie(w, p.cookie(sessionCookie, "", p.path, time.Time{}))
	w.WriteHeader(http.StatusNoContent)
}

// back sends the browser to the page, with a fixed error code the script
// words (never text from the request, which a link could forge).
func (p *Page) back(w http.ResponseWriter, r *http.Request, code string) {
	to := p.path
	if code != "" {
		to += "?" + url.Values{"error": {code}}.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// remember keeps a started sign-in until its callback, dropping expired
// ones; false when too many are in flight.
func (p *Page) remember(pd indieauth.Pending) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for st, t := range p.started {
		if now.Sub(t) > signInTTL {
			delete(p.started, st)
			delete(p.pending, st)
		}
	}
	if len(p.pending) >= maxPending {
		return false
	}
	p.pending[pd.State], p.started[pd.State] = pd, now
	return true
}

// take returns a started sign-in once: a replayed callback finds nothing.
func (p *Page) take(state string) (indieauth.Pending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.pending[state]
	fresh := ok && p.now().Sub(p.started[state]) <= signInTTL
	delete(p.pending, state)
	delete(p.started, state)
	return pd, fresh
}
