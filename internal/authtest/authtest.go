// Package authtest runs an owner's website with an IndieAuth
// authorization server, for tests of spano as an IndieAuth client. It
// behaves like a real one where a client can get it wrong: it insists on
// PKCE S256, a state, a redirect_uri under the client_id, and redeems a
// code once, only with the verifier whose challenge it was given.
package authtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Server is the owner's site: / links to its metadata, which names the
// authorization endpoint /auth.
type Server struct {
	*httptest.Server
	// Me is what a redeemed code says was signed in; the site's own URL
	// unless a test changes it.
	Me string

	mu       sync.Mutex
	codes    map[string]grant
	Requests []url.Values // every authorization request, in order
	Refused  []string     // why each refused request or redemption was refused
}

type grant struct {
	challenge, clientID, redirectURI string
	used                             bool
}

// New starts the owner's site; it stops when the test ends.
func New(t testing.TB) *Server {
	s := &Server{codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Owner</title><link rel="indieauth-metadata" href="/.well-known/oauth-authorization-server"><h1>Owner's site</h1>`))
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                           s.URL + "/",
			"authorization_endpoint":           s.URL + "/auth",
			"token_endpoint":                   s.URL + "/token",
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /auth", s.authorize)
	mux.HandleFunc("POST /auth", s.redeem)
	s.Server = httptest.NewServer(mux)
	s.Me = s.URL + "/"
	t.Cleanup(s.Close)
	return s
}

// authorize approves at once (the owner is signed in at their site) and
// redirects back with a code, after checking the request as a real
// server does.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.Requests = append(s.Requests, q)
	s.mu.Unlock()
	client, redirect := q.Get("client_id"), q.Get("redirect_uri")
	switch {
	case q.Get("response_type") != "code":
		s.refuse(w, "response_type is not code")
	case q.Get("state") == "":
		s.refuse(w, "no state")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		s.refuse(w, "no S256 code_challenge")
	case client == "" || !strings.HasPrefix(redirect, strings.TrimRight(client, "/")+"/"):
		s.refuse(w, "redirect_uri is not under client_id")
	default:
		var b [16]byte
		_, _ = rand.Read(b[:])
		code := hex.EncodeToString(b[:])
		s.mu.Lock()
		s.codes[code] = grant{challenge: q.Get("code_challenge"), clientID: client, redirectURI: redirect}
		s.mu.Unlock()
		back, _ := url.Parse(redirect)
		bq := back.Query()
		bq.Set("code", code)
		bq.Set("state", q.Get("state"))
		bq.Set("iss", s.URL+"/")
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
}

// redeem is the profile URL exchange: the code, once, with the verifier.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	code := r.PostForm.Get("code")
	g, ok := s.codes[code]
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		s.refuseLocked(w, "unknown code")
	case g.used:
		s.refuseLocked(w, "code used already")
	case r.PostForm.Get("grant_type") != "authorization_code":
		s.refuseLocked(w, "grant_type is not authorization_code")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		s.refuseLocked(w, "code_verifier does not match the challenge")
	case r.PostForm.Get("client_id") != g.clientID || r.PostForm.Get("redirect_uri") != g.redirectURI:
		s.refuseLocked(w, "client_id or redirect_uri differ")
	default:
		g.used = true
		s.codes[code] = g
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"me": s.Me})
		return
	}
	g.used = true // a code is spent by any attempt, as RFC 6749 §10.5 advises
	if ok {
		s.codes[code] = g
	}
}

func (s *Server) refuse(w http.ResponseWriter, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseLocked(w, why)
}

func (s *Server) refuseLocked(w http.ResponseWriter, why string) {
	s.Refused = append(s.Refused, why)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": why})
}

// Refusals returns why requests were refused so far.
func (s *Server) Refusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Refused...)
}
