// Package ui is the owner's media library page: sign-in (IndieAuth, with
// spano as the client, or a static token typed into a form), upload with
// progress, a grid of past uploads, copy snippets and delete. It is plain
// HTML, CSS and a little JavaScript embedded in the binary: no CDN, no
// build step.
//
// The page talks to the Micropub endpoint itself, with its session in
// place of a token: the server asks Page.Authenticate, which wants the
// signed session cookie and, on state-changing requests, the session's
// CSRF token in a header. No token is ever kept in the page's storage.
// Every response carries a Content-Security-Policy without unsafe-inline
// and refuses to be framed; the script builds the DOM with textContent,
// so a filename is never markup.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"spano/indieauth"
)

//go:embed assets
var assets embed.FS

// Defaults for zero Options.
const (
	defaultSessionTTL = 7 * 24 * time.Hour
	// signInTTL is how long an IndieAuth sign-in may take, from the
	// redirect to the callback.
	signInTTL = 10 * time.Minute
	// maxPending bounds the sign-ins started and not yet finished.
	maxPending = 64
)

// Verifier checks a token typed into the sign-in form;
// *indieauth.Verifier is the real one.
type Verifier interface {
	Verify(ctx context.Context, token string) (indieauth.Token, error)
}

// Options configure the page. cmd/spano fills them from the config.
type Options struct {
	Path         string // ui.path: where the page is, e.g. "/"
	BaseURL      string // base_url: cookies are Secure when it is https
	EndpointPath string // endpoint_path: where the page uploads and queries
	// SiteMediaURL is site.url + media.url_path + "/": the page shows a
	// file whose URL starts with it from the server's MediaPath(Path)
	// instead, so thumbnails show before the site deploys.
	SiteMediaURL string
	Me           string            // auth.me
	Key          []byte            // the session key, from LoadKey
	Verifier     Verifier          // checks tokens typed into the form
	SignIn       *indieauth.SignIn // nil: no IndieAuth sign-in
	Scopes       []string          // auth.scopes: a typed token needs one
	OwnerScopes  []string          // what an IndieAuth session grants: auth.scopes and auth.delete_scopes
	SessionTTL   time.Duration     // 0: 7 days
	Logger       *slog.Logger      // nil: discard
	Now          func() time.Time  // nil: time.Now
}

// Page serves the media library and recognises its sessions.
type Page struct {
	path, endpoint, siteMedia, me, clientID string
	secure                                  bool
	key                                     []byte
	verifier                                Verifier
	signIn                                  *indieauth.SignIn
	scopes, ownerScopes                     []string
	ttl                                     time.Duration
	log                                     *slog.Logger
	now                                     func() time.Time
	mux                                     *http.ServeMux

	mu      sync.Mutex
	pending map[string]indieauth.Pending // by state, until used or expired
	started map[string]time.Time
}

// New returns the page.
func New(opts Options) (*Page, error) {
	if len(opts.Key) != KeySize {
		return nil, fmt.Errorf("ui: session key is %d bytes, want %d", len(opts.Key), KeySize)
	}
	if opts.Verifier == nil {
		return nil, errors.New("ui: no verifier")
	}
	me, err := indieauth.CanonicalMe(opts.Me)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("ui: base_url %q is not an absolute URL", opts.BaseURL)
	}
	p := &Page{
		path: Dir(opts.Path), endpoint: "/" + strings.Trim(opts.EndpointPath, "/"),
		siteMedia: opts.SiteMediaURL, me: me, clientID: ClientID(opts.BaseURL),
		secure: base.Scheme == "https", key: opts.Key, verifier: opts.Verifier, signIn: opts.SignIn,
		scopes: opts.Scopes, ownerScopes: opts.OwnerScopes, ttl: opts.SessionTTL,
		log: opts.Logger, now: opts.Now,
		pending: map[string]indieauth.Pending{}, started: map[string]time.Time{},
	}
	if p.ttl <= 0 {
		p.ttl = defaultSessionTTL
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("system", "ui")
	if p.now == nil {
		p.now = time.Now
	}
	static, _ := fs.Sub(assets, "assets") // the folder is embedded: cannot fail
	files := http.FileServerFS(static)
	m := http.NewServeMux()
	m.HandleFunc("GET "+p.path+"{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	m.Handle("GET "+p.path+"assets/", http.StripPrefix(p.path+"assets/", files))
	m.HandleFunc("GET "+p.path+"session", p.sessionInfo)
	m.HandleFunc("POST "+p.path+"signin/token", p.signInToken)
	m.HandleFunc("GET "+p.path+"signin/indieauth", p.signInStart)
	m.HandleFunc("GET "+p.path+"callback", p.callback)
	m.HandleFunc("POST "+p.path+"signout", p.signOut)
	p.mux = m
	return p, nil
}

// Dir is a ui.path as the page uses it: with a leading and trailing "/".
func Dir(path string) string {
	if t := strings.Trim(path, "/"); t != "" {
		return "/" + t + "/"
	}
	return "/"
}

// ClientID is spano's IndieAuth client_id: base_url with a trailing "/".
func ClientID(baseURL string) string { return strings.TrimRight(baseURL, "/") + "/" }

// CallbackURL is the IndieAuth redirect_uri for the page at path.
func CallbackURL(baseURL, path string) string {
	return strings.TrimRight(baseURL, "/") + Dir(path) + "callback"
}

// MediaPath is where the server serves committed files to the page's
// sessions (server.Options.UIMediaPath) for the page at path.
func MediaPath(path string) string { return Dir(path) + "files/" }

// contentSecurityPolicy allows the page's own script, style, images and
// requests only: no inline script or style, no framing, forms posting to
// the page alone.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves the page, its assets and its sign-in routes, every
// response with the security headers.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // the callback's URL holds a code; no-referrer would make form posts say Origin: null
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost && !p.sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// sameOrigin refuses a POST that the browser says comes from another
// site; a request without either header (not a browser) passes to the
// CSRF check.
func (p *Page) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" { // "null" too: a sandboxed or opaque origin
		return strings.TrimRight(o, "/") == strings.TrimRight(originOf(p.clientID), "/")
	}
	return true
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
