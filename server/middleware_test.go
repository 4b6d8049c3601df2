package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	tests := []struct {
		name       string
		origins    []string
		method     string
		path       string
		origin     string
		wantStatus int
		wantAllow  string
	}{
		{name: "preflight anywhere", origins: []string{"*"}, method: "OPTIONS", path: "/micropub/media",
			origin: "https://quill.p3k.io", wantStatus: 204, wantAllow: "*"},
		{name: "preflight on an unknown path", origins: []string{"*"}, method: "OPTIONS", path: "/nowhere",
			origin: "https://quill.p3k.io", wantStatus: 204, wantAllow: "*"},
		{name: "plain response", origins: []string{"*"}, method: "GET", path: "/healthz",
			origin: "https://quill.p3k.io", wantStatus: 200, wantAllow: "*"},
		{name: "error response", origins: []string{"*"}, method: "GET", path: "/micropub/media",
			wantStatus: 400, wantAllow: "*"},
		{name: "listed origin", origins: []string{"https://quill.p3k.io"}, method: "OPTIONS", path: "/micropub/media",
			origin: "https://quill.p3k.io", wantStatus: 204, wantAllow: "https://quill.p3k.io"},
		{name: "unlisted origin", origins: []string{"https://quill.p3k.io"}, method: "OPTIONS", path: "/micropub/media",
			origin: "https://evil.example", wantStatus: 204, wantAllow: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{origins: tt.origins})
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp := e.do(req)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			h := resp.Header
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Allow-Origin = %q, want %q", got, tt.wantAllow)
			}
			for k, want := range map[string]string{
				"Access-Control-Allow-Headers":  "Authorization, Content-Type",
				"Access-Control-Allow-Methods":  "GET, POST, OPTIONS",
				"Access-Control-Expose-Headers": "Location",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if h.Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id")
			}
		})
	}
}

func TestAccessLogHidesTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	const queryToken = "query-secret-token-1234"
	req, _ := http.NewRequest("GET", e.srv.URL+"/micropub/media?q=config&access_token="+queryToken, nil)
	req.Header.Set("X-Request-Id", "req-42")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp := e.do(req)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "req-42" {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
	// The good token in the header, for an upload.
	resp = e.upload(goodToken, "a.png", makeTinyPNG(t, 99))
	resp.Body.Close()

	logs := e.logs.String()
	for _, secret := range []string{queryToken, goodToken, "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"access_token=REDACTED", "request_id=req-42", "status=401", "status=201", "method=POST", "forwarded_for=203.0.113.7", "duration=", "bytes="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestRedactedURI(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{name: "no query", raw: "/micropub/media", want: "/micropub/media"},
		{name: "token", raw: "/m?q=config&access_token=abc", want: "/m?q=config&access_token=REDACTED"},
		{name: "encoded name", raw: "/m?access%5Ftoken=abc", want: "/m?access%5Ftoken=REDACTED"},
		{name: "upper case name", raw: "/m?ACCESS_TOKEN=abc&x=1", want: "/m?ACCESS_TOKEN=REDACTED&x=1"},
		{name: "undecodable name", raw: "/m?%zz=abc&q=1", want: "/m?REDACTED&q=1"},
		{name: "twice", raw: "/m?access_token=a&access_token=b", want: "/m?access_token=REDACTED&access_token=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := redactedURI(u); got != tt.want {
				t.Errorf("redactedURI(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name       string
		query      string
		token      string
		wantStatus int
		wantCode   string
	}{
		{name: "config", query: "q=config", token: goodToken, wantStatus: 200},
		{name: "config with the token in the query", query: "q=config&access_token=" + goodToken, wantStatus: 200},
		{name: "config without token", query: "q=config", wantStatus: 401, wantCode: codeUnauthorized},
		{name: "config with a bad token", query: "q=config", token: unknownToken, wantStatus: 401, wantCode: codeInvalidToken},
		{name: "no q", query: "", token: goodToken, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "unsupported q", query: "q=syndicate-to", token: goodToken, wantStatus: 400, wantCode: codeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/micropub/media?"+tt.query, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp := e.do(req)
			if tt.wantStatus != 200 {
				wantError(t, resp, tt.wantStatus, tt.wantCode)
				return
			}
			var got struct {
				Endpoint string   `json:"media-endpoint"`
				Q        []string `json:"q"`
			}
			decode(t, resp, &got)
			if got.Endpoint != "https://media.example.com/micropub/media" {
				t.Errorf("media-endpoint = %q", got.Endpoint)
			}
			if len(got.Q) == 0 || got.Q[0] != "config" {
				t.Errorf("q = %v, want config first", got.Q)
			}
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name, method, path string
		wantStatus         int
	}{
		{name: "unknown path", method: "GET", path: "/wp-admin", wantStatus: 404},
		{name: "wrong method", method: "DELETE", path: "/micropub/media", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			resp := e.do(req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			var body errorBody
			decode(t, resp, &body)
			if body.Error == "" {
				t.Errorf("no Micropub error in the body")
			}
		})
	}
}
