package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"spano/indieauth"
)

// KeySize is the length of the session key in bytes.
const KeySize = 32

// Cookie names. The sign-in cookie only lives between the start of an
// IndieAuth sign-in and its callback.
const (
	sessionCookie = "spano_session"
	signInCookie  = "spano_signin"
	// CSRFHeader carries the session's CSRF token on every state-changing
	// request the page sends.
	CSRFHeader = "X-CSRF-Token"
)

// ErrCSRF is Authenticate's answer to a state-changing request whose
// session cookie is good but whose CSRF token is missing or wrong: what a
// cross-site form would send.
var ErrCSRF = errors.New("the session's CSRF token is missing or wrong")

// LoadKey reads the session key at path, or creates it (mode 0600) when
// there is none, so that sessions survive a restart. A key of the wrong
// size is an error rather than silently replaced.
func LoadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("session key %s: %d bytes, want %d (delete it to sign everyone out)", path, len(key), KeySize)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create session key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("create session key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write session key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync session key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close session key: %w", err)
	}
	return key, nil
}

// session is what the session cookie holds, signed but not secret: the
// browser may read it, but not change it.
type session struct {
	Me      string   `json:"me"`
	Scopes  []string `json:"scope"`
	CSRF    string   `json:"csrf"`
	Expires int64    `json:"exp"` // Unix seconds
	Via     string   `json:"via"` // "indieauth" or "token"
}

// sign returns payload.mac, both base64url, for a cookie of purpose
// (which keeps a sign-in cookie from passing as a session).
func (p *Page) sign(purpose string, v any) string {
	b, _ := json.Marshal(v) // plain structs: cannot fail
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(p.mac(purpose, payload))
}

// open checks a value made by sign and decodes it into v.
func (p *Page) open(purpose, value string, v any) bool {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, p.mac(purpose, payload)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	return err == nil && json.Unmarshal(b, v) == nil
}

func (p *Page) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// session returns the request's valid, unexpired session.
func (p *Page) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	var s session
	if !p.open(sessionCookie, c.Value, &s) || s.Me != p.me || p.now().Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

// Authenticate is the server's view of a session: the token it grants.
// A safe request (GET, HEAD) needs the cookie only; any other also needs
// the session's CSRF token in the X-CSRF-Token header, which a page on
// another site can neither read nor send.
func (p *Page) Authenticate(r *http.Request) (indieauth.Token, bool, error) {
	s, ok := p.session(r)
	if !ok {
		return indieauth.Token{}, false, nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !p.checkCSRF(s, r.Header.Get(CSRFHeader)) {
		return indieauth.Token{}, false, ErrCSRF
	}
	return indieauth.Token{Me: s.Me, ClientID: p.clientID, Scopes: s.Scopes, Expires: time.Unix(s.Expires, 0)}, true, nil
}

func (p *Page) checkCSRF(s session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// startSession sets the session cookie for me with scopes until expires.
func (p *Page) startSession(w http.ResponseWriter, scopes []string, expires time.Time, via string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	s := session{Me: p.me, Scopes: scopes, CSRF: base64.RawURLEncoding.EncodeToString(b[:]),
		Expires: expires.Unix(), Via: via}
	http.SetCookie(w, p.cookie(sessionCookie, p.sign(sessionCookie, s), p.path, expires))
}

// cookie is one of the page's cookies: HttpOnly, SameSite=Lax, Secure
// when base_url is https. Lax rather than Strict because the IndieAuth
// callback is a navigation from the authorization server's site, which
// must carry the sign-in cookie; the CSRF token, not SameSite, is what
// guards state-changing requests.
func (p *Page) cookie(name, value, path string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true,
		Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = max(1, int(expires.Sub(p.now()).Seconds()))
	}
	return c
}
