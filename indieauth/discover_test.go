package indieauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// site is the owner's web site for discovery tests: routes map a path to
// a handler; "{base}" in any reply is replaced by the server's URL.
type site struct {
	*httptest.Server
	requests atomic.Int64
}

func newSite(t *testing.T, routes map[string]http.HandlerFunc) *site {
	t.Helper()
	s := &site{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// page answers with an HTML page and Link headers, "{base}" expanded.
func page(links []string, html string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		for _, l := range links {
			w.Header().Add("Link", strings.ReplaceAll(l, "{base}", base))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, strings.ReplaceAll(html, "{base}", base))
	}
}

func metadata(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, strings.ReplaceAll(body, "{base}", "http://"+r.Host))
	}
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
}

func TestDiscovery(t *testing.T) {
	meta := metadata(`{"issuer":"{base}/","token_endpoint":"{base}/token","introspection_endpoint":"{base}/introspect"}`)
	both := endpoints{introspection: "/introspect", token: "/token"}
	tests := []struct {
		name    string
		me      string // path of auth.me on the site
		routes  map[string]http.HandlerFunc
		want    endpoints // paths on the site; zero when discovery must fail
		wantErr string
	}{
		{name: "metadata from Link header", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`<{base}/meta>; rel="indieauth-metadata"`}, "<p>hi</p>"), "/meta": meta},
			want:   both},
		{name: "metadata from HTML link, relative", me: "/",
			routes: map[string]http.HandlerFunc{"/": page(nil, `<html><head><link rel="indieauth-metadata" href="/meta"></head></html>`), "/meta": meta},
			want:   both},
		{name: "metadata with relative endpoints", me: "/",
			routes: map[string]http.HandlerFunc{
				"/":          page([]string{`</auth/meta>; rel=indieauth-metadata`}, ""),
				"/auth/meta": metadata(`{"token_endpoint":"token","introspection_endpoint":"/introspect"}`)},
			want: endpoints{introspection: "/introspect", token: "/auth/token"}},
		{name: "metadata with only a token endpoint", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`}, ""), "/meta": metadata(`{"token_endpoint":"{base}/token"}`)},
			want:   endpoints{token: "/token"}},
		{name: "legacy token_endpoint header", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`<{base}/token>; rel="token_endpoint"`}, "")},
			want:   endpoints{token: "/token"}},
		{name: "legacy token_endpoint in HTML among several rels", me: "/",
			routes: map[string]http.HandlerFunc{"/": page(nil, `<!doctype html><link rel="micropub" href="/micropub"><LINK REL="Token_Endpoint micropub" HREF="token"/>`)},
			want:   endpoints{token: "/token"}},
		{name: "header before HTML", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</from-header>; rel="token_endpoint"`}, `<link rel="token_endpoint" href="/from-html">`)},
			want:   endpoints{token: "/from-header"}},
		{name: "metadata in HTML before token_endpoint in header", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</legacy>; rel="token_endpoint"`}, `<link rel="indieauth-metadata" href="/meta">`), "/meta": meta},
			want:   both},
		{name: "several links in one header, commas and quotes", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</a,b>; rel="micropub"; title="x, y", </meta>; rel="authorization_endpoint indieauth-metadata"`}, ""), "/meta": meta},
			want:   both},
		{name: "first of two links with one rel", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</one>; rel="token_endpoint"`, `</two>; rel="token_endpoint"`}, "")},
			want:   endpoints{token: "/one"}},
		{name: "relative to the final URL after redirects", me: "/",
			routes: map[string]http.HandlerFunc{"/": redirect("/u/"), "/u/": redirect("/u/alice/"), "/u/alice/": page(nil, `<link rel="token_endpoint" href="token">`)},
			want:   endpoints{token: "/u/alice/token"}},
		{name: "broken metadata falls back to token_endpoint", me: "/",
			routes: map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`, `</token>; rel="token_endpoint"`}, ""), "/meta": jsonReply(500, "{}")},
			want:   endpoints{token: "/token"}},

		{name: "no links", me: "/", routes: map[string]http.HandlerFunc{"/": page(nil, `<link rel="micropub" href="/mp">`)},
			wantErr: "no indieauth-metadata or token_endpoint link"},
		{name: "link in a non-HTML page is not read", me: "/",
			routes:  map[string]http.HandlerFunc{"/": typedReply("text/plain", 200, `<link rel="token_endpoint" href="/token">`)},
			wantErr: "no indieauth-metadata"},
		{name: "home page fails", me: "/", routes: map[string]http.HandlerFunc{"/": typedReply("text/html", 500, "oops")},
			wantErr: "status 500"},
		{name: "metadata fails, nothing else", me: "/",
			routes:  map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`}, ""), "/meta": jsonReply(404, "{}")},
			wantErr: "status 404"},
		{name: "metadata not JSON", me: "/",
			routes:  map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`}, ""), "/meta": typedReply("text/html", 200, "<html>")},
			wantErr: "not a JSON object"},
		{name: "metadata without endpoints", me: "/",
			routes:  map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`}, ""), "/meta": metadata(`{"issuer":"{base}/"}`)},
			wantErr: "no token_endpoint or introspection_endpoint"},
		{name: "plain-http endpoint off loopback", me: "/",
			routes:  map[string]http.HandlerFunc{"/": page([]string{`</meta>; rel="indieauth-metadata"`}, ""), "/meta": metadata(`{"token_endpoint":"http://auth.example/token"}`)},
			wantErr: "only on loopback"},
		{name: "plain-http token_endpoint link off loopback", me: "/",
			routes:  map[string]http.HandlerFunc{"/": page([]string{`<http://auth.example/token>; rel="token_endpoint"`}, "")},
			wantErr: "only on loopback"},
		{name: "four redirects are too many", me: "/",
			routes: map[string]http.HandlerFunc{"/": redirect("/1"), "/1": redirect("/2"), "/2": redirect("/3"), "/3": redirect("/4"),
				"/4": page([]string{`</token>; rel="token_endpoint"`}, "")},
			wantErr: "redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, tt.routes)
			logger, logs := newLogger()
			v := newVerifier(t, Options{Me: s.URL + tt.me, Discover: true, Logger: logger, Static: []StaticToken{{SHA256: sha("static")}}})
			got := v.eps.Load()
			if tt.wantErr != "" {
				if got != nil {
					t.Fatalf("discovered %+v, want failure", *got)
				}
				if !strings.Contains(logs.String(), tt.wantErr) || !strings.Contains(logs.String(), "endpoint discovery failed") {
					t.Errorf("log does not explain the failure with %q:\n%s", tt.wantErr, logs)
				}
				if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Verify = %v, want ErrUnavailable", err)
				}
				if _, err := v.Verify(context.Background(), "static"); err != nil {
					t.Errorf("static token while discovery failed: %v", err)
				}
				return
			}
			if got == nil {
				t.Fatalf("discovery failed:\n%s", logs)
			}
			want := endpoints{}
			if tt.want.introspection != "" {
				want.introspection = s.URL + tt.want.introspection
			}
			if tt.want.token != "" {
				want.token = s.URL + tt.want.token
			}
			if *got != want {
				t.Errorf("discovered %+v, want %+v", *got, want)
			}
		})
	}
}

// TestDiscoveredEndpointsUsed runs the whole path: discovery, then a token
// checked at the discovered introspection endpoint.
func TestDiscoveredEndpointsUsed(t *testing.T) {
	s := newSite(t, map[string]http.HandlerFunc{
		"/":     page([]string{`</meta>; rel="indieauth-metadata"`}, ""),
		"/meta": metadata(`{"introspection_endpoint":"{base}/introspect"}`),
		"/introspect": func(w http.ResponseWriter, r *http.Request) {
			jsonReply(200, fmt.Sprintf(`{"active":true,"me":"http://%s/","scope":"media"}`, r.Host))(w, r)
		},
	})
	v := newVerifier(t, Options{Me: s.URL, Discover: true})
	got, err := v.Verify(context.Background(), "tok")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := s.URL + "/"; got.Me != want {
		t.Errorf("Me = %q, want %q", got.Me, want)
	}
	if want := "discovered from " + s.URL + "/: introspection " + s.URL + "/introspect"; v.Mode() != want {
		t.Errorf("Mode = %q, want %q", v.Mode(), want)
	}
}

// TestDiscoveryRecovers: a site that was down at start-up is discovered by
// a later refresh, and the refreshing stops with the context.
func TestDiscoveryRecovers(t *testing.T) {
	var up atomic.Bool
	s := newSite(t, map[string]http.HandlerFunc{
		"/": func(w http.ResponseWriter, r *http.Request) {
			if !up.Load() {
				typedReply("text/html", 503, "down")(w, r)
				return
			}
			page([]string{`</token>; rel="token_endpoint"`}, "")(w, r)
		},
		"/token": jsonReply(200, `{"me":"https://example.com/"}`),
	})
	u, _ := url.Parse(s.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger, logs := newLogger()
	v, err := New(ctx, Options{Me: testMe, Discover: true, RefreshEvery: 20 * time.Millisecond, Logger: logger,
		HTTPClient: &http.Client{Transport: rewriteHost{u.Host}, Timeout: time.Second}})
	if err != nil {
		t.Fatalf("New with the site down = %v, want no error", err)
	}
	if !strings.Contains(v.Mode(), "not yet successful") {
		t.Errorf("Mode = %q, want it to say discovery has not succeeded", v.Mode())
	}
	if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify with the site down = %v, want ErrUnavailable", err)
	}
	up.Store(true)
	waitFor(t, "rediscovery", func() bool { return v.eps.Load() != nil })
	if _, err := v.Verify(context.Background(), "tok"); err != nil {
		t.Fatalf("Verify after rediscovery: %v", err)
	}
	if !strings.Contains(logs.String(), "endpoints discovered") {
		t.Errorf("log does not report the discovery:\n%s", logs)
	}
	cancel()
	time.Sleep(50 * time.Millisecond) // a refresh in flight may finish
	before := s.requests.Load()
	time.Sleep(100 * time.Millisecond)
	if after := s.requests.Load(); after != before {
		t.Errorf("site got %d requests after the context ended", after-before)
	}
}

// rewriteHost sends every request to one test server, so that auth.me can
// be an https URL of a real-looking site.
type rewriteHost struct{ host string }

func (rw rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = "http", rw.host
	return http.DefaultTransport.RoundTrip(r)
}

func TestParseLinkHeader(t *testing.T) {
	base, _ := url.Parse("https://example.com/a/")
	tests := []struct {
		name   string
		values []string
		want   map[string]string
	}{
		{name: "simple", values: []string{`<https://auth.example/token>; rel="token_endpoint"`},
			want: map[string]string{relToken: "https://auth.example/token"}},
		{name: "unquoted rel, odd case", values: []string{`<t>; REL=Token_Endpoint`},
			want: map[string]string{relToken: "https://example.com/a/t"}},
		{name: "spaces around", values: []string{` < /t > ; rel = "token_endpoint" `},
			want: map[string]string{relToken: "https://example.com/t"}},
		{name: "unterminated", values: []string{`<https://auth.example/token; rel="token_endpoint"`},
			want: map[string]string{}},
		{name: "other rels ignored", values: []string{`</mp>; rel="micropub", </auth>; rel="authorization_endpoint"`},
			want: map[string]string{"authorization_endpoint": "https://example.com/auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseLinkHeader(tt.values, base)
			if len(got) != len(tt.want) {
				t.Fatalf("parseLinkHeader = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("rel %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
