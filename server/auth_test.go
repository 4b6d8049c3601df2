package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spano/indieauth"
	"spano/internal/gittest"
)

// tokenEndpoint behaves like a legacy IndieAuth token endpoint (GET with
// the token as Bearer): each token of the test stands for one answer a
// real endpoint gives.
func tokenEndpoint(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		reply := func(status int, v map[string]string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(v)
		}
		switch token {
		case "tok-quill-5e1f":
			reply(http.StatusOK, map[string]string{"me": "https://EXAMPLE.com", "client_id": "https://quill.p3k.io/", "scope": "create update"})
		case "tok-other-site-77ab":
			reply(http.StatusOK, map[string]string{"me": "https://example.org/", "client_id": "https://quill.p3k.io/", "scope": "create"})
		case "tok-read-only-c03d":
			reply(http.StatusOK, map[string]string{"me": siteURL + "/", "scope": "read"})
		case "tok-down-91e2":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>502 Bad Gateway</html>"))
		default:
			reply(http.StatusBadRequest, map[string]string{"error": "unauthorized"})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestUploadTokenEndpoint runs every token decision through the upload
// endpoint against a real token endpoint: one 201, and for each failure
// its status, code and headers, with nothing committed.
func TestUploadTokenEndpoint(t *testing.T) {
	endpoint := tokenEndpoint(t)
	verifier, err := indieauth.New(context.Background(), indieauth.Options{
		Me: siteURL + "/", TokenEndpoint: endpoint.URL, HTTPClient: endpoint.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{verifier: verifier})

	for _, tc := range []struct {
		name, token   string
		status        int
		code          string
		wantHeader    string // a response header that must be present, "Name: part of value"
		wantScopeBody bool
	}{
		{"invalid token", "tok-revoked-2b6c", http.StatusUnauthorized, "invalid_token", `Www-Authenticate: error="invalid_token"`, false},
		{"another site's token", "tok-other-site-77ab", http.StatusForbidden, "forbidden", "", false},
		{"no upload scope", "tok-read-only-c03d", http.StatusUnauthorized, "insufficient_scope", "", true},
		{"token endpoint broken", "tok-down-91e2", http.StatusServiceUnavailable, "temporarily_unavailable", "Retry-After: ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := e.unchanged()
			resp := e.upload(tc.token, "photo.jpg", makeJPEG(t, 7, 64, 48))
			if tc.wantHeader != "" {
				name, part, _ := strings.Cut(tc.wantHeader, ": ")
				if got := resp.Header.Get(name); got == "" || !strings.Contains(got, part) {
					t.Errorf("%s = %q, want it to contain %q", name, got, part)
				}
			}
			body := wantError(t, resp, tc.status, tc.code)
			if tc.wantScopeBody && body.Scope == "" {
				t.Errorf("insufficient_scope without a scope field")
			}
			check()
		})
	}

	t.Run("valid token", func(t *testing.T) {
		resp := e.upload("tok-quill-5e1f", "IMG_0001.jpg", makeJPEG(t, 8, 64, 48))
		if resp.StatusCode != http.StatusCreated {
			wantError(t, resp, http.StatusCreated, "")
		}
		resp.Body.Close()
		if got := gittest.Git(t, e.remote, "log", "-1", "--format=%(trailers:key=Media-Client,valueonly)", "main"); got != "https://quill.p3k.io/" {
			t.Errorf("Media-Client trailer = %q, want the token's client_id", got)
		}
	})
	if strings.Contains(e.logs.String(), "tok-quill-5e1f") && strings.Contains(e.logs.String(), "Bearer quill") {
		t.Errorf("a token reached the log")
	}
}
