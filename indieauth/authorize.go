package indieauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrSignIn is why a sign-in callback was refused: a wrong or replayed
// state, an error from the authorization server, a code it would not
// redeem, or a me other than auth.me. The message under it is safe to
// show to the person signing in.
var ErrSignIn = errors.New("sign-in refused")

// SignInOptions configure spano as an IndieAuth client of its owner's
// authorization server.
type SignInOptions struct {
	Me          string       // auth.me: the only site that may sign in
	ClientID    string       // base_url + "/": spano's IndieAuth client id
	RedirectURI string       // the callback, under base_url
	HTTPClient  *http.Client // nil: the verifier's default client (5 s, 3 redirects)
}

// SignIn signs the owner in with IndieAuth, spano being the client: it
// discovers the authorization endpoint from auth.me, sends the browser
// there with PKCE (S256) and a state, and redeems the code it gets back
// for the me it was issued to. It holds no per-sign-in state: Start
// returns what the caller must keep until Finish.
type SignIn struct {
	me          string // canonical
	clientID    string
	redirectURI string
	client      *http.Client
}

// Pending is a started sign-in: Finish needs all of it back. The caller
// binds it to the browser (spano's page keeps it server-side, keyed by a
// signed cookie) and uses it at most once.
type Pending struct {
	State         string // random, compared with the callback's state
	Verifier      string // the PKCE code_verifier, never sent before the redemption
	Endpoint      string // the authorization endpoint, where the code is redeemed
	Issuer        string // the metadata's issuer, "" when discovered from a rel link
	RedirectToURL string // where to send the browser
}

// NewSignIn checks opts and returns a SignIn.
func NewSignIn(opts SignInOptions) (*SignIn, error) {
	me, err := CanonicalMe(opts.Me)
	if err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	for name, u := range map[string]string{"client_id": opts.ClientID, "redirect_uri": opts.RedirectURI} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, fmt.Errorf("sign-in: %s %q is not an absolute http(s) URL", name, u)
		}
	}
	c := opts.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: endpointTimeout, CheckRedirect: checkRedirect}
	}
	return &SignIn{me: me, clientID: opts.ClientID, redirectURI: opts.RedirectURI, client: c}, nil
}

// Start discovers the owner's authorization endpoint and returns the
// sign-in to send the browser to. It asks for no scope: the page needs to
// know who signed in, not a token.
func (s *SignIn) Start(ctx context.Context) (Pending, error) {
	endpoint, issuer, err := s.discover(ctx)
	if err != nil {
		return Pending{}, err
	}
	p := Pending{State: randomString(), Verifier: randomString(), Endpoint: endpoint, Issuer: issuer}
	u, _ := url.Parse(endpoint) // checked by discover
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", s.clientID)
	q.Set("redirect_uri", s.redirectURI)
	q.Set("state", p.State)
	q.Set("code_challenge", Challenge(p.Verifier))
	q.Set("code_challenge_method", "S256")
	q.Set("me", s.me)
	u.RawQuery = q.Encode()
	p.RedirectToURL = u.String()
	return p, nil
}

// Challenge is the PKCE S256 code_challenge of verifier (RFC 7636 §4.2).
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Finish checks the callback's query against p and redeems its code at
// the authorization endpoint, returning the canonical me it was issued
// to, which is always auth.me. Refusals wrap ErrSignIn; an endpoint that
// cannot be reached wraps ErrUnavailable.
func (s *SignIn) Finish(ctx context.Context, p Pending, callback url.Values) (string, error) {
	state := callback.Get("state")
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) != 1 {
		return "", fmt.Errorf("%w: the state does not match this sign-in", ErrSignIn)
	}
	if e := callback.Get("error"); e != "" {
		return "", fmt.Errorf("%w: the authorization server said %.60q", ErrSignIn, e)
	}
	if iss := callback.Get("iss"); iss != "" && p.Issuer != "" && iss != p.Issuer {
		// RFC 9207: a callback from another server than the one asked.
		// One without iss passes: older servers do not send it, and the
		// code is redeemed at the endpoint discovered from auth.me anyway.
		return "", fmt.Errorf("%w: the callback's issuer %.100q is not %s", ErrSignIn, iss, p.Issuer)
	}
	code := callback.Get("code")
	if code == "" {
		return "", fmt.Errorf("%w: the callback carries no code", ErrSignIn)
	}
	ctx, cancel := context.WithTimeout(ctx, endpointTimeout)
	defer cancel()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"client_id":     {s.clientID},
		"redirect_uri":  {s.redirectURI},
		"code_verifier": {p.Verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("redeem code: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, ctype, body, err := readReply(s.client, req)
	if err != nil {
		return "", fmt.Errorf("redeem code: %w: %w", ErrUnavailable, err)
	}
	if status >= 500 {
		return "", fmt.Errorf("redeem code: %w: status %d", ErrUnavailable, status)
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("%w: the authorization server would not redeem the code (status %d)", ErrSignIn, status)
	}
	r, err := parseReply(ctype, body)
	if err != nil {
		return "", fmt.Errorf("%w: the authorization server's reply is not JSON or a form", ErrSignIn)
	}
	me, err := CanonicalMe(r.me)
	if err != nil || me != s.me {
		return "", fmt.Errorf("%w: signed in as %.100q, but only %s may sign in", ErrSignIn, r.me, s.me)
	}
	return me, nil
}

// discover finds the authorization endpoint from auth.me: the
// indieauth-metadata document first, then the authorization_endpoint rel.
func (s *SignIn) discover(ctx context.Context) (endpoint, issuer string, err error) {
	ctx, cancel := context.WithTimeout(ctx, endpointTimeout)
	defer cancel()
	pick, base, err := fetchLinks(ctx, s.client, s.me)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var metaErr error
	if meta := pick(relMetadata); meta != "" {
		endpoint, issuer, metaErr = s.metadata(ctx, meta)
		if metaErr == nil {
			return endpoint, issuer, nil
		}
	}
	if ep := pick(relAuthorization); ep != "" {
		if err := checkEndpoint(ep); err != nil {
			return "", "", errors.Join(metaErr, fmt.Errorf("discover authorization_endpoint: %w", err))
		}
		return ep, "", nil
	}
	if metaErr != nil {
		return "", "", metaErr
	}
	return "", "", fmt.Errorf("discover: %s has no %s or %s link", base.Redacted(), relMetadata, relAuthorization)
}

// metadata reads the authorization endpoint and issuer from an IndieAuth
// server metadata document, and refuses a server that does not offer S256.
func (s *SignIn) metadata(ctx context.Context, metaURL string) (endpoint, issuer string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return "", "", fmt.Errorf("discover metadata: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	status, _, body, err := readReply(s.client, req)
	if err != nil || status != http.StatusOK {
		return "", "", fmt.Errorf("discover metadata %s: %w (status %d)", metaURL, errors.Join(ErrUnavailable, err), status)
	}
	var m struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		Methods               []string `json:"code_challenge_methods_supported"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", "", fmt.Errorf("discover metadata %s: not a JSON object", metaURL)
	}
	base, _ := url.Parse(metaURL)
	u, err := base.Parse(m.AuthorizationEndpoint)
	if m.AuthorizationEndpoint == "" || err != nil {
		return "", "", fmt.Errorf("discover metadata %s: no usable authorization_endpoint", metaURL)
	}
	if err := checkEndpoint(u.String()); err != nil {
		return "", "", fmt.Errorf("discover metadata %s: authorization_endpoint: %w", metaURL, err)
	}
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, "S256") {
		return "", "", fmt.Errorf("discover metadata %s: the server does not offer PKCE S256", metaURL)
	}
	return u.String(), m.Issuer, nil
}

// randomString is 32 random bytes, base64url: a state or a code_verifier
// (43 characters, within RFC 7636's 43–128).
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
