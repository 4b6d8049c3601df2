package indieauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the test clock's start, in seconds since the epoch.
const now = 1_700_000_000

// reply writers imitating what real endpoints send.
func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func formReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func typedReply(ctype string, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// formUnlessJSON answers like older endpoints: form-encoded unless Accept is
// exactly application/json.
func formUnlessJSON(jsonBody, formBody string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "application/json" {
			jsonReply(200, jsonBody)(w, r)
			return
		}
		formReply(200, formBody)(w, r)
	}
}

func TestEndpointQuirks(t *testing.T) {
	const exp = now + 3600
	type want struct {
		err      error
		scopes   []string
		clientID string
		expires  time.Time
	}
	ok := want{scopes: []string{"media", "create"}, clientID: "https://quill.p3k.io/"}
	tests := []struct {
		name    string
		mode    string // "introspection" or "token"
		bearer  string // IntrospectionBearer
		handler http.HandlerFunc
		want    want
	}{
		// Introspection: JSON, form, and the ways of saying "active".
		{name: "introspection json", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`),
			want:    ok},
		{name: "introspection active as string", mode: "introspection",
			handler: jsonReply(200, `{"active":"true","me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`),
			want:    ok},
		{name: "introspection form-encoded", mode: "introspection",
			handler: formReply(200, "active=true&me=https%3A%2F%2Fexample.com%2F&client_id=https%3A%2F%2Fquill.p3k.io%2F&scope=media+create"),
			want:    ok},
		{name: "introspection form unless Accept is exactly json", mode: "introspection",
			handler: formUnlessJSON(`{"active":true,"me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`, "active=false"),
			want:    ok},
		{name: "introspection form labelled text/plain", mode: "introspection",
			handler: typedReply("text/plain", 200, "active=true&me=https://example.com/&client_id=https://quill.p3k.io/&scope=media%20create"),
			want:    ok},
		{name: "introspection json without content type", mode: "introspection",
			handler: typedReply("", 200, `{"active":true,"me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`),
			want:    ok},
		{name: "introspection active false with 200", mode: "introspection",
			handler: jsonReply(200, `{"active":false}`), want: want{err: ErrInvalidToken}},
		{name: "introspection active string false", mode: "introspection",
			handler: jsonReply(200, `{"active":"false","me":"https://example.com/"}`), want: want{err: ErrInvalidToken}},
		{name: "introspection 200 without active proves nothing", mode: "introspection",
			handler: jsonReply(200, `{"me":"https://example.com/","scope":"media"}`), want: want{err: ErrInvalidToken}},
		{name: "introspection form active=false", mode: "introspection",
			handler: formReply(200, "active=false"), want: want{err: ErrInvalidToken}},
		{name: "introspection active of odd type", mode: "introspection",
			handler: jsonReply(200, `{"active":1,"me":"https://example.com/"}`), want: want{err: ErrUnavailable}},
		{name: "introspection 400", mode: "introspection",
			handler: jsonReply(400, `{"error":"invalid_request"}`), want: want{err: ErrInvalidToken}},
		{name: "introspection 401 to our credential", mode: "introspection", bearer: "resource-server-secret",
			handler: jsonReply(401, `{"error":"unauthorized"}`), want: want{err: ErrMisconfigured}},
		{name: "introspection 403 to our credential", mode: "introspection", bearer: "resource-server-secret",
			handler: jsonReply(403, `{"error":"forbidden"}`), want: want{err: ErrMisconfigured}},
		{name: "introspection 401 to the token as credential", mode: "introspection",
			handler: jsonReply(401, `{"error":"unauthorized"}`), want: want{err: ErrInvalidToken}},

		// exp: number, numeric string, fraction, none, zero, past, nonsense.
		{name: "exp as number", mode: "introspection",
			handler: jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","scope":"media","exp":%d}`, exp)),
			want:    want{scopes: []string{"media"}, expires: time.Unix(exp, 0)}},
		{name: "exp as numeric string", mode: "introspection",
			handler: jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","scope":"media","exp":"%d"}`, exp)),
			want:    want{scopes: []string{"media"}, expires: time.Unix(exp, 0)}},
		{name: "exp with a fraction", mode: "introspection",
			handler: jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","scope":"media","exp":%d.5}`, exp)),
			want:    want{scopes: []string{"media"}, expires: time.Unix(exp, 5e8)}},
		{name: "exp in a form reply", mode: "introspection",
			handler: formReply(200, fmt.Sprintf("active=true&me=https://example.com/&scope=media&exp=%d", exp)),
			want:    want{scopes: []string{"media"}, expires: time.Unix(exp, 0)}},
		{name: "exp zero means none", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media","exp":0}`),
			want:    want{scopes: []string{"media"}}},
		{name: "exp null means none", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media","exp":null}`),
			want:    want{scopes: []string{"media"}}},
		{name: "exp in the past", mode: "introspection",
			handler: jsonReply(200, fmt.Sprintf(`{"active":true,"me":"https://example.com/","scope":"media","exp":%d}`, now-1)),
			want:    want{err: ErrInvalidToken}},
		{name: "exp exactly now", mode: "token",
			handler: jsonReply(200, fmt.Sprintf(`{"me":"https://example.com/","scope":"media","exp":"%d"}`, now)),
			want:    want{err: ErrInvalidToken}},
		{name: "exp not a number", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media","exp":"tomorrow"}`),
			want:    want{err: ErrUnavailable}},
		{name: "exp of odd type", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media","exp":{}}`),
			want:    want{err: ErrUnavailable}},

		// scope: empty, spaces, commas, a list.
		{name: "scope empty", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":""}`),
			want:    want{scopes: []string{}}},
		{name: "scope missing", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com/"}`),
			want:    want{}},
		{name: "scope comma-separated", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com/","scope":"media,create"}`),
			want:    want{scopes: []string{"media", "create"}}},
		{name: "scope comma and space", mode: "token",
			handler: formReply(200, "me=https://example.com/&scope=media,+create"),
			want:    want{scopes: []string{"media", "create"}}},
		{name: "scope as a list", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/","scope":["media","create"]}`),
			want:    want{scopes: []string{"media", "create"}}},

		// me: canonicalised, whole URL compared.
		{name: "me without path", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com","scope":"media"}`),
			want:    want{scopes: []string{"media"}}},
		{name: "me upper-case host and fragment", mode: "token",
			handler: jsonReply(200, `{"me":"HTTPS://EXAMPLE.com/#top","scope":"media"}`),
			want:    want{scopes: []string{"media"}}},
		{name: "me another host", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://evil.example/","scope":"media"}`),
			want:    want{err: ErrForbidden}},
		{name: "me same host other path", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"me":"https://example.com/bob/","scope":"media"}`),
			want:    want{err: ErrForbidden}},
		{name: "me http instead of https", mode: "token",
			handler: jsonReply(200, `{"me":"http://example.com/","scope":"media"}`),
			want:    want{err: ErrForbidden}},
		{name: "me host as subdomain", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com.evil.example/","scope":"media"}`),
			want:    want{err: ErrForbidden}},
		{name: "me missing", mode: "introspection",
			handler: jsonReply(200, `{"active":true,"scope":"media"}`),
			want:    want{err: ErrForbidden}},
		{name: "me not a URL", mode: "token",
			handler: jsonReply(200, `{"me":"example.com","scope":"media"}`),
			want:    want{err: ErrForbidden}},

		// Legacy token endpoints.
		{name: "legacy json", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`),
			want:    ok},
		{name: "legacy form-encoded", mode: "token",
			handler: formReply(200, "me=https%3A%2F%2Fexample.com%2F&client_id=https%3A%2F%2Fquill.p3k.io%2F&scope=media+create"),
			want:    ok},
		{name: "legacy form unless Accept is exactly json", mode: "token",
			handler: formUnlessJSON(`{"me":"https://example.com/","client_id":"https://quill.p3k.io/","scope":"media create"}`, "error=unsupported"),
			want:    ok},
		{name: "legacy 400 error=unauthorized", mode: "token",
			handler: formReply(400, "error=unauthorized&error_description=The+token+provided+was+malformed"), want: want{err: ErrInvalidToken}},
		{name: "legacy 401", mode: "token",
			handler: jsonReply(401, `{"error":"invalid_token"}`), want: want{err: ErrInvalidToken}},
		{name: "legacy 403", mode: "token",
			handler: jsonReply(403, `{"error":"forbidden"}`), want: want{err: ErrInvalidToken}},
		{name: "legacy 401 with html", mode: "token",
			handler: typedReply("text/html", 401, "<h1>Unauthorized</h1>"), want: want{err: ErrInvalidToken}},
		{name: "legacy 200 with an error", mode: "token",
			handler: jsonReply(200, `{"error":"invalid_token"}`), want: want{err: ErrInvalidToken}},
		{name: "legacy 200 active false", mode: "token",
			handler: jsonReply(200, `{"active":false,"me":"https://example.com/"}`), want: want{err: ErrInvalidToken}},

		// Broken endpoints: 503 and nothing cached.
		{name: "introspection 500", mode: "introspection",
			handler: jsonReply(500, `{"error":"server_error"}`), want: want{err: ErrUnavailable}},
		{name: "legacy 502", mode: "token",
			handler: typedReply("text/html", 502, "<h1>Bad Gateway</h1>"), want: want{err: ErrUnavailable}},
		{name: "legacy 404", mode: "token",
			handler: typedReply("text/plain", 404, "not found"), want: want{err: ErrUnavailable}},
		{name: "legacy 429", mode: "token",
			handler: jsonReply(429, `{}`), want: want{err: ErrUnavailable}},
		{name: "html with 200", mode: "token",
			handler: typedReply("text/html; charset=utf-8", 200, "<!doctype html><title>Log in</title>"), want: want{err: ErrUnavailable}},
		{name: "html labelled json", mode: "introspection",
			handler: jsonReply(200, "<html>oops</html>"), want: want{err: ErrUnavailable}},
		{name: "unlabelled html", mode: "token",
			handler: typedReply("", 200, "<html><body>me=https://example.com/</body></html>"), want: want{err: ErrUnavailable}},
		{name: "empty 200", mode: "introspection",
			handler: jsonReply(200, ""), want: want{err: ErrUnavailable}},
		{name: "empty form 200", mode: "token",
			handler: formReply(200, ""), want: want{err: ErrUnavailable}},
		{name: "json array", mode: "token",
			handler: jsonReply(200, `[{"me":"https://example.com/"}]`), want: want{err: ErrUnavailable}},
		{name: "reply over the size cap", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com/","x":"`+strings.Repeat("a", replyLimit)+`"}`), want: want{err: ErrUnavailable}},
		{name: "reply just under the size cap", mode: "token",
			handler: jsonReply(200, `{"me":"https://example.com/","scope":"media","x":"`+strings.Repeat("a", replyLimit-60)+`"}`),
			want:    want{scopes: []string{"media"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, tt.handler)
			opts := Options{CacheTTL: time.Minute, IntrospectionBearer: tt.bearer, Now: newClock().Now}
			if tt.mode == "introspection" {
				opts.IntrospectionEndpoint = e.URL
			} else {
				opts.TokenEndpoint = e.URL
			}
			v := newVerifier(t, opts)
			for i := range 2 {
				got, err := v.Verify(context.Background(), "tok-quirk")
				if !errors.Is(err, tt.want.err) || (tt.want.err == nil && err != nil) {
					t.Fatalf("call %d: Verify error = %v, want %v", i+1, err, tt.want.err)
				}
				if err != nil {
					if got.Me != "" || got.Scopes != nil {
						t.Errorf("Verify returned %+v with an error", got)
					}
					continue
				}
				if got.Me != testMe {
					t.Errorf("Me = %q, want %q", got.Me, testMe)
				}
				if !slices.Equal(got.Scopes, tt.want.scopes) {
					t.Errorf("Scopes = %q, want %q", got.Scopes, tt.want.scopes)
				}
				if got.ClientID != tt.want.clientID {
					t.Errorf("ClientID = %q, want %q", got.ClientID, tt.want.clientID)
				}
				if !got.Expires.Equal(tt.want.expires) {
					t.Errorf("Expires = %v, want %v", got.Expires, tt.want.expires)
				}
			}
			// A valid answer (even for another me) is cached, and so is a
			// rejection, for NegativeTTL; a broken endpoint is asked again.
			wantCalls := int64(1)
			if errors.Is(tt.want.err, ErrUnavailable) || errors.Is(tt.want.err, ErrMisconfigured) {
				wantCalls = 2
			}
			if got := e.calls.Load(); got != wantCalls {
				t.Errorf("endpoint called %d times for two verifications, want %d", got, wantCalls)
			}
		})
	}
}

func TestIntrospectionRequest(t *testing.T) {
	tests := []struct {
		name     string
		bearer   string
		wantAuth string
	}{
		{name: "our credential", bearer: "resource-server-secret", wantAuth: "Bearer resource-server-secret"},
		{name: "the token itself when no credential", bearer: "", wantAuth: "Bearer the-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems []string
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				check := func(what, got, want string) {
					if got != want {
						problems = append(problems, fmt.Sprintf("%s = %q, want %q", what, got, want))
					}
				}
				check("method", r.Method, "POST")
				check("Accept", r.Header.Get("Accept"), "application/json")
				check("Content-Type", r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
				check("Authorization", r.Header.Get("Authorization"), tt.wantAuth)
				check("query", r.URL.RawQuery, "")
				if err := r.ParseForm(); err != nil {
					problems = append(problems, err.Error())
				}
				check("token field", r.PostForm.Get("token"), "the-token")
				jsonReply(200, `{"active":true,"me":"https://example.com/"}`)(w, r)
			})
			v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, IntrospectionBearer: tt.bearer})
			if _, err := v.Verify(context.Background(), "the-token"); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

func TestLegacyRequest(t *testing.T) {
	var problems []string
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		check := func(what, got, want string) {
			if got != want {
				problems = append(problems, fmt.Sprintf("%s = %q, want %q", what, got, want))
			}
		}
		check("method", r.Method, "GET")
		check("Accept", r.Header.Get("Accept"), "application/json")
		check("Authorization", r.Header.Get("Authorization"), "Bearer the-token")
		check("query", r.URL.RawQuery, "")
		jsonReply(200, `{"me":"https://example.com/"}`)(w, r)
	})
	v := newVerifier(t, Options{TokenEndpoint: e.URL})
	if _, err := v.Verify(context.Background(), "the-token"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestUnreachable covers endpoints that do not answer in time or at all.
func TestUnreachable(t *testing.T) {
	slow := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		jsonReply(200, `{"me":"https://example.com/"}`)(w, r)
	})
	closed := newEndpoint(t, jsonReply(200, `{"me":"https://example.com/"}`))
	closed.Close()
	tests := []struct {
		name   string
		url    string
		client *http.Client
	}{
		{name: "slower than the client's timeout", url: slow.URL, client: &http.Client{Timeout: 100 * time.Millisecond}},
		{name: "connection refused", url: closed.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Options{TokenEndpoint: tt.url, HTTPClient: tt.client, CacheTTL: time.Minute})
			if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify error = %v, want ErrUnavailable", err)
			}
			if n := v.cache.len(); n != 0 {
				t.Errorf("cache holds %d entries after a failure, want 0", n)
			}
		})
	}
}

// TestRedirects checks that our own client follows at most 3 redirects.
func TestRedirects(t *testing.T) {
	tests := []struct {
		name      string
		redirects int
		wantErr   error
	}{
		{name: "none", redirects: 0},
		{name: "three", redirects: 3},
		{name: "four", redirects: 4, wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				var n int
				fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
				if n < tt.redirects {
					http.Redirect(w, r, fmt.Sprintf("/hop/%d", n+1), http.StatusTemporaryRedirect)
					return
				}
				if r.Header.Get("Authorization") != "Bearer tok" {
					jsonReply(401, `{}`)(w, r)
					return
				}
				jsonReply(200, `{"me":"https://example.com/"}`)(w, r)
			})
			v := newVerifier(t, Options{TokenEndpoint: e.URL + "/hop/0"})
			_, err := v.Verify(context.Background(), "tok")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
	}{
		{url: "https://auth.example/token"},
		{url: "http://127.0.0.1:8080/token"},
		{url: "http://127.1.2.3/token"},
		{url: "http://localhost/token"},
		{url: "http://[::1]:9000/token"},
		{url: "http://auth.example/token", wantErr: true},
		{url: "http://10.0.0.1/token", wantErr: true},
		{url: "ftp://auth.example/token", wantErr: true},
		{url: "/token", wantErr: true},
		{url: "https://", wantErr: true},
		{url: "https://auth.example/%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if err := checkEndpoint(tt.url); (err != nil) != tt.wantErr {
				t.Errorf("checkEndpoint(%q) = %v, want error %v", tt.url, err, tt.wantErr)
			}
		})
	}
}
