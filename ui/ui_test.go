package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/indieauth"
	"spano/internal/authtest"
)

const (
	uploadToken = "token-that-may-upload"
	deleteOnly  = "token-that-may-only-delete"
)

type fixture struct {
	page    *Page
	owner   *authtest.Server
	now     time.Time
	keyFile string
	opts    Options
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newFixture(t *testing.T, baseURL string) *fixture {
	t.Helper()
	f := &fixture{owner: authtest.New(t), now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
		keyFile: filepath.Join(t.TempDir(), "ui-session-key")}
	v, err := indieauth.New(context.Background(), indieauth.Options{Me: f.owner.URL, Static: []indieauth.StaticToken{
		{SHA256: digest(uploadToken), Scope: "media"}, {SHA256: digest(deleteOnly), Scope: "delete"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	signIn, err := indieauth.NewSignIn(indieauth.SignInOptions{Me: f.owner.URL, ClientID: ClientID(baseURL),
		RedirectURI: CallbackURL(baseURL, "/")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadKey(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.opts = Options{Path: "/", BaseURL: baseURL, EndpointPath: "/micropub/media", Me: f.owner.URL, Key: key,
		Verifier: v, SignIn: signIn, Scopes: []string{"media", "create"}, OwnerScopes: []string{"media", "create", "delete"},
		SessionTTL: time.Hour, Now: func() time.Time { return f.now }}
	f.page, err = New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) do(r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	f.page.ServeHTTP(w, r)
	return w.Result()
}

// signIn signs in with a typed token and returns the session cookie.
func (f *fixture) signIn(t *testing.T, token string) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/signin/token", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := f.do(r)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in answered %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("sign-in with %q set no session (redirect to %s)", token, resp.Header.Get("Location"))
	return nil
}

func (f *fixture) csrf(t *testing.T, c *http.Cookie) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/session", nil)
	r.AddCookie(c)
	var s sessionJSON
	if err := json.NewDecoder(f.do(r).Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if !s.SignedIn || s.CSRF == "" {
		t.Fatalf("session = %+v, want signed in with a CSRF token", s)
	}
	return s.CSRF
}

func TestLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "key")
	k1, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode %o, want 600", got)
	}
	k2, err := LoadKey(path)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != KeySize {
		t.Errorf("second LoadKey = %x, %v; want the first key %x", k2, err, k1)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		base       string
		wantSecure bool
	}{{"https://media.example.com", true}, {"http://127.0.0.1:8080", false}} {
		t.Run(tt.base, func(t *testing.T) {
			f := newFixture(t, tt.base)
			c := f.signIn(t, uploadToken)
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.wantSecure || c.Path != "/" {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q; want true, Lax, %v, /",
					c.HttpOnly, c.SameSite, c.Secure, c.Path, tt.wantSecure)
			}
			if got, want := c.MaxAge, 3600; got != want {
				t.Errorf("MaxAge = %d, want %d (the session TTL)", got, want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, "https://media.example.com")
	good := f.signIn(t, uploadToken)
	csrf := f.csrf(t, good)
	wrongCSRF := csrf[:len(csrf)-1] + "A" // one character off, whatever the last one was
	if strings.HasSuffix(csrf, "A") {
		wrongCSRF = csrf[:len(csrf)-1] + "B"
	}
	forged := *good
	forged.Value = strings.Replace(good.Value, ".", "x.", 1)
	other := newFixture(t, "https://media.example.com").signIn(t, uploadToken) // another key

	tests := []struct {
		name    string
		method  string
		cookie  *http.Cookie
		csrf    string
		advance time.Duration
		wantOK  bool
		wantErr error
	}{
		{name: "no cookie", method: "GET"},
		{name: "GET with the cookie", method: "GET", cookie: good, wantOK: true},
		{name: "POST without CSRF", method: "POST", cookie: good, wantErr: ErrCSRF},
		{name: "POST with a wrong CSRF", method: "POST", cookie: good, csrf: wrongCSRF, wantErr: ErrCSRF},
		{name: "POST with the CSRF", method: "POST", cookie: good, csrf: csrf, wantOK: true},
		{name: "forged cookie", method: "POST", cookie: &forged, csrf: csrf},
		{name: "cookie signed with another key", method: "GET", cookie: other},
		{name: "expired", method: "GET", cookie: good, advance: time.Hour},
		{name: "just before expiry", method: "GET", cookie: good, advance: time.Hour - time.Second, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func(start time.Time) func() { return func() { f.now = start } }(f.now))
			f.now = f.now.Add(tt.advance)
			r := httptest.NewRequest(tt.method, "/micropub/media", nil)
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			if tt.csrf != "" {
				r.Header.Set(CSRFHeader, tt.csrf)
			}
			tok, ok, err := f.page.Authenticate(r)
			if ok != tt.wantOK || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate = %v, %v; want %v, %v", ok, err, tt.wantOK, tt.wantErr)
			}
			if ok && (tok.Me != f.owner.URL+"/" || !tok.HasAnyScope([]string{"media"}) || tok.HasAnyScope([]string{"delete"}) ||
				tok.ClientID != "https://media.example.com/") {
				t.Errorf("token = %+v, want the owner, scope media (the typed token's), client spano", tok)
			}
		})
	}
}

func TestSessionSurvivesRestart(t *testing.T) {
	f := newFixture(t, "https://media.example.com")
	c := f.signIn(t, uploadToken)
	key, err := LoadKey(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	opts := f.opts
	opts.Key = key
	restarted, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/micropub/media", nil)
	r.AddCookie(c)
	if _, ok, err := restarted.Authenticate(r); !ok || err != nil {
		t.Errorf("after a restart Authenticate = %v, %v; want the session", ok, err)
	}
}

func TestTokenSignInRefused(t *testing.T) {
	f := newFixture(t, "https://media.example.com")
	for _, tt := range []struct{ token, want string }{
		{"", "error=token-missing"}, {"not-a-token", "error=token-refused"}, {deleteOnly, "error=token-scope"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/signin/token", strings.NewReader(url.Values{"token": {tt.token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := f.do(r)
		if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, tt.want) || len(resp.Cookies()) != 0 {
			t.Errorf("token %q: redirect %q with %d cookies, want %s and none", tt.token, loc, len(resp.Cookies()), tt.want)
		}
	}
}

func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, "https://media.example.com")
	c := f.signIn(t, uploadToken)
	for _, tt := range []struct{ name, header, value string }{
		{"origin", "Origin", "https://evil.example"},
		{"opaque origin", "Origin", "null"},
		{"fetch metadata", "Sec-Fetch-Site", "cross-site"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/signout", nil)
			r.AddCookie(c)
			r.Header.Set(tt.header, tt.value)
			if got := f.do(r); got.StatusCode != http.StatusForbidden || len(got.Cookies()) != 0 {
				t.Errorf("status %d, %d cookies; want 403 and the session kept", got.StatusCode, len(got.Cookies()))
			}
		})
	}
	// Same origin but no CSRF token: still refused.
	r := httptest.NewRequest(http.MethodPost, "/signout", nil)
	r.AddCookie(c)
	r.Header.Set("Origin", "https://media.example.com")
	if got := f.do(r); got.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: status %d, want 403", got.StatusCode)
	}
	r.Header.Set(CSRFHeader, f.csrf(t, c))
	got := f.do(r)
	if got.StatusCode != http.StatusNoContent || len(got.Cookies()) != 1 || got.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: status %d cookies %v; want 204 and the cookie cleared", got.StatusCode, got.Cookies())
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, "https://media.example.com")
	for _, path := range []string{"/", "/assets/app.js", "/assets/app.css", "/session", "/nothing-here"} {
		resp := f.do(httptest.NewRequest(http.MethodGet, path, nil))
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline or eval", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Frame-Options %q, nosniff %q", path, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"))
		}
	}
	page := f.do(httptest.NewRequest(http.MethodGet, "/", nil))
	var body bytes.Buffer
	_, _ = body.ReadFrom(page.Body)
	if page.StatusCode != 200 || !strings.Contains(body.String(), `src="assets/app.js"`) || strings.Contains(body.String(), "<script>") ||
		strings.Contains(body.String(), "style=") {
		t.Errorf("page: status %d; want the page with no inline script or style", page.StatusCode)
	}
}

// callback runs an IndieAuth sign-in through the page up to the callback
// and returns the sign-in cookie and the callback URL.
func (f *fixture) startIndieAuth(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	resp := f.do(httptest.NewRequest(http.MethodGet, "/signin/indieauth", nil))
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("start: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if c.Path != "/callback" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("sign-in cookie %+v: want HttpOnly, Lax, path /callback", c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	auth, err := client.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	auth.Body.Close()
	if auth.StatusCode != http.StatusFound {
		t.Fatalf("authorization endpoint: %d, refused %q", auth.StatusCode, f.owner.Refusals())
	}
	return c, auth.Header.Get("Location")
}

func (f *fixture) finish(c *http.Cookie, callback string) (*http.Response, *http.Cookie) {
	u, _ := url.Parse(callback)
	r := httptest.NewRequest(http.MethodGet, u.RequestURI(), nil)
	if c != nil {
		r.AddCookie(c)
	}
	resp := f.do(r)
	for _, sc := range resp.Cookies() {
		if sc.Name == sessionCookie {
			return resp, sc
		}
	}
	return resp, nil
}

func TestIndieAuthCallback(t *testing.T) {
	tests := []struct {
		name      string
		me        string
		tamper    func(c *http.Cookie, callback string) (*http.Cookie, string)
		twice     bool
		wantError string // the page's error code; "" = signed in
	}{
		{name: "signed in"},
		{name: "no sign-in cookie", tamper: func(_ *http.Cookie, cb string) (*http.Cookie, string) { return nil, cb }, wantError: "state"},
		{name: "bad state", tamper: func(c *http.Cookie, cb string) (*http.Cookie, string) {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
			return c, u.String()
		}, wantError: "state"},
		{name: "forged cookie", tamper: func(c *http.Cookie, cb string) (*http.Cookie, string) {
			d := *c
			d.Value = "e30." + strings.SplitN(c.Value, ".", 2)[1]
			return &d, cb
		}, wantError: "state"},
		{name: "wrong me", me: "https://someone-else.example/", wantError: "indieauth-refused"},
		{name: "replayed callback", twice: true, wantError: "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "https://media.example.com")
			if tt.me != "" {
				f.owner.Me = tt.me
			}
			c, cb := f.startIndieAuth(t)
			if tt.tamper != nil {
				c, cb = tt.tamper(c, cb)
			}
			resp, sess := f.finish(c, cb)
			if tt.twice {
				if sess == nil {
					t.Fatalf("first callback: %s", resp.Header.Get("Location"))
				}
				resp, sess = f.finish(c, cb)
			}
			loc := resp.Header.Get("Location")
			if tt.wantError != "" {
				if sess != nil || loc != "/?error="+tt.wantError {
					t.Fatalf("callback: session %v, redirect %q; want none and error=%s", sess != nil, loc, tt.wantError)
				}
				return
			}
			if sess == nil || loc != "/" {
				t.Fatalf("callback: redirect %q and no session; server refused %q", loc, f.owner.Refusals())
			}
			r := httptest.NewRequest(http.MethodGet, "/micropub/media", nil)
			r.AddCookie(sess)
			tok, ok, _ := f.page.Authenticate(r)
			if !ok || !tok.HasAnyScope([]string{"delete"}) || tok.Me != f.owner.URL+"/" {
				t.Errorf("IndieAuth session grants %+v, %v; want the owner with the owner's scopes", tok, ok)
			}
		})
	}
}
