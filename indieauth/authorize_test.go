package indieauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"spano/indieauth"
	"spano/internal/authtest"
)

// approve follows the sign-in's redirect as a browser would and returns
// the callback's query.
func approve(t *testing.T, p indieauth.Pending) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.RedirectToURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorization endpoint answered %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func newSignIn(t *testing.T, owner *authtest.Server) *indieauth.SignIn {
	t.Helper()
	s, err := indieauth.NewSignIn(indieauth.SignInOptions{
		Me: owner.URL, ClientID: "https://media.example.com/", RedirectURI: "https://media.example.com/callback",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignIn(t *testing.T) {
	tests := []struct {
		name     string
		me       string                                   // what the server says signed in; "" = the owner
		tamper   func(p *indieauth.Pending, q url.Values) // changes made before Finish
		twice    bool                                     // finish the same callback again
		wantErr  error
		wantOnce bool // the first Finish succeeds (with twice)
	}{
		{name: "signed in"},
		{name: "me canonicalised", me: "HTTP://{host}"},
		{name: "bad state", tamper: func(_ *indieauth.Pending, q url.Values) { q.Set("state", "forged") }, wantErr: indieauth.ErrSignIn},
		{name: "no state", tamper: func(_ *indieauth.Pending, q url.Values) { q.Del("state") }, wantErr: indieauth.ErrSignIn},
		{name: "wrong me", me: "https://someone-else.example/", wantErr: indieauth.ErrSignIn},
		{name: "other path on the same host", me: "{url}/bob/", wantErr: indieauth.ErrSignIn},
		{name: "wrong verifier", tamper: func(p *indieauth.Pending, _ url.Values) { p.Verifier = otherFirst(p.Verifier) }, wantErr: indieauth.ErrSignIn},
		{name: "other issuer", tamper: func(_ *indieauth.Pending, q url.Values) { q.Set("iss", "https://evil.example/") }, wantErr: indieauth.ErrSignIn},
		{name: "error from the server", tamper: func(_ *indieauth.Pending, q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, wantErr: indieauth.ErrSignIn},
		{name: "replayed code", twice: true, wantOnce: true, wantErr: indieauth.ErrSignIn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := authtest.New(t)
			u, _ := url.Parse(owner.URL)
			switch tt.me {
			case "":
			case "HTTP://{host}":
				owner.Me = "HTTP://" + u.Host
			case "{url}/bob/":
				owner.Me = owner.URL + "/bob/"
			default:
				owner.Me = tt.me
			}
			s := newSignIn(t, owner)
			p, err := s.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			q := approve(t, p)
			if tt.tamper != nil {
				tt.tamper(&p, q)
			}
			me, err := s.Finish(context.Background(), p, q)
			if tt.twice {
				if err != nil {
					t.Fatalf("first Finish: %v", err)
				}
				me, err = s.Finish(context.Background(), p, q)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Finish = %q, %v; want %v", me, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Finish: %v (server refused: %q)", err, owner.Refusals())
			}
			if got, want := me, owner.URL+"/"; got != want {
				t.Errorf("me = %q, want %q", got, want)
			}
		})
	}
}

func TestSignInStartRequest(t *testing.T) {
	owner := authtest.New(t)
	s := newSignIn(t, owner)
	p, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(p.RedirectToURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "https://media.example.com/",
		"redirect_uri": "https://media.example.com/callback", "state": p.State,
		"code_challenge": indieauth.Challenge(p.Verifier), "code_challenge_method": "S256", "me": owner.URL + "/",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("code_verifier") != "" {
		t.Error("the verifier left with the authorization request")
	}
	if u.Path != "/auth" || p.Endpoint != owner.URL+"/auth" {
		t.Errorf("endpoint %q, want the metadata's /auth", p.Endpoint)
	}
	p2, _ := s.Start(context.Background())
	if p2.State == p.State || p2.Verifier == p.Verifier {
		t.Error("two sign-ins share a state or verifier")
	}
}

func TestChallenge(t *testing.T) {
	// The want was computed by another implementation: python3 -c
	// "import hashlib,base64; print(base64.urlsafe_b64encode(
	// hashlib.sha256(b'dBjftJeZ4CVP-mB92K27uhbUofOWmqx5nkBiXOyJQvA').digest()).rstrip(b'='))"
	if got, want := indieauth.Challenge("dBjftJeZ4CVP-mB92K27uhbUofOWmqx5nkBiXOyJQvA"), "YXqdyURZy_6de_zCOecg7ApaF3z9rph2or0YdliPxp8"; got != want {
		t.Errorf("Challenge = %q, want %q", got, want)
	}
}

func TestSignInDiscoveryRel(t *testing.T) {
	// A site with the older rel link only, and one with neither.
	mux := http.NewServeMux()
	var base string
	mux.HandleFunc("GET /rel", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+base+`/authz>; rel="authorization_endpoint"`)
		w.Header().Set("Content-Type", "text/html")
	})
	mux.HandleFunc("GET /none", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<link rel="micropub" href="/mp">`))
	})
	srv := newHTTPTest(t, mux)
	base = srv
	for _, tt := range []struct {
		path, want string
		wantErr    bool
	}{{"/rel", base + "/authz", false}, {"/none", "", true}} {
		s, err := indieauth.NewSignIn(indieauth.SignInOptions{Me: base + tt.path, ClientID: "https://m.example/", RedirectURI: "https://m.example/cb"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Start(context.Background())
		if (err != nil) != tt.wantErr || p.Endpoint != tt.want {
			t.Errorf("%s: Start = %q, %v; want %q (error %v)", tt.path, p.Endpoint, err, tt.want, tt.wantErr)
		}
	}
}

func newHTTPTest(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// otherFirst changes the first character of s, whatever it is (a random
// verifier starts with "x" one time in 64).
func otherFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
