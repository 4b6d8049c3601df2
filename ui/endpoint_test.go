package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"spano/ui"
)

// client signs in with token through the form and returns a client
// holding the session cookie, and the session's CSRF token.
func (l *library) client(t *testing.T, token string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(l.srv.URL+"/signin/token", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(l.srv.URL + "/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		SignedIn bool   `json:"signed_in"`
		CSRF     string `json:"csrf"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || !s.SignedIn {
		t.Fatalf("not signed in with %q: %v", token, err)
	}
	return c, s.CSRF
}

func (l *library) upload(t *testing.T, c *http.Client, csrf string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "photo.jpg")
	_, _ = fw.Write(body)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, l.srv.URL+"/micropub/media", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if csrf != "" {
		req.Header.Set(ui.CSRFHeader, csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestSessionOnEndpoint(t *testing.T) {
	l := newLibrary(t)
	c, csrf := l.client(t, ownerToken)

	resp, _ := l.upload(t, c, "", photo(t, 400, 300, 1))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("upload with the cookie but no CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, out := l.upload(t, c, csrf, photo(t, 400, 300, 1))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload with the session: %d %v", resp.StatusCode, out)
	}
	u := out["url"].(string)
	path := "media/" + strings.TrimPrefix(u, "https://example.com/media/")
	if !l.onBranch(t, path) {
		t.Fatalf("%s is not on the branch", path)
	}

	// A query needs no CSRF token (it changes nothing) but the session.
	q, err := c.Get(l.srv.URL + "/micropub/media?q=source")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			URL        string `json:"url"`
			Thumbnails []struct {
				URL string `json:"url"`
			} `json:"thumbnails"`
		} `json:"items"`
	}
	_ = json.NewDecoder(q.Body).Decode(&page)
	q.Body.Close()
	if q.StatusCode != 200 || len(page.Items) != 1 || page.Items[0].URL != u || len(page.Items[0].Thumbnails) == 0 {
		t.Fatalf("q=source with the session: %d %+v", q.StatusCode, page)
	}
	if r, _ := http.Get(l.srv.URL + "/micropub/media?q=source"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("q=source without a session: %d, want 401", r.StatusCode)
	}

	// The page's thumbnails come from spano, for sessions only.
	thumb := "/files/" + strings.TrimPrefix(page.Items[0].Thumbnails[0].URL, "https://example.com/media/")
	for _, tt := range []struct {
		client *http.Client
		want   int
	}{{c, 200}, {http.DefaultClient, 401}} {
		r, err := tt.client.Get(l.srv.URL + thumb)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if tt.want == 200 && !strings.HasPrefix(r.Header.Get("Cache-Control"), "private") {
			t.Errorf("GET %s: Cache-Control %q, want private: only sessions may read it", thumb, r.Header.Get("Cache-Control"))
		}
		if r.StatusCode != tt.want || (tt.want == 200 && r.Header.Get("Content-Type") != "image/jpeg") {
			t.Errorf("GET %s: %d %s (%d bytes), want %d", thumb, r.StatusCode, r.Header.Get("Content-Type"), len(b), tt.want)
		}
	}

	// A cross-site form carrying the cookie (as a same-site attacker's
	// would, or a browser without SameSite) cannot delete.
	del := url.Values{"action": {"delete"}, "url": {u}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, l.srv.URL+"/micropub/media", strings.NewReader(del))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden || !l.onBranch(t, path) {
		t.Fatalf("cross-site delete with the cookie: %d, file on branch %v; want 403 and kept", r.StatusCode, l.onBranch(t, path))
	}

	// A media-only token's session may upload but not delete.
	mc, mcsrf := l.client(t, mediaOnly)
	req, _ = http.NewRequest(http.MethodPost, l.srv.URL+"/micropub/media", strings.NewReader(del))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(ui.CSRFHeader, mcsrf)
	if r, _ := mc.Do(req); r.StatusCode != http.StatusUnauthorized || !l.onBranch(t, path) {
		t.Fatalf("delete with a media-only session: %d, want 401 insufficient_scope", r.StatusCode)
	}

	// The session and a token in the same request are two tokens.
	req, _ = http.NewRequest(http.MethodPost, l.srv.URL+"/micropub/media", strings.NewReader(del+"&access_token="+ownerToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(ui.CSRFHeader, csrf)
	if r, _ := c.Do(req); r.StatusCode != http.StatusBadRequest || !l.onBranch(t, path) {
		t.Fatalf("delete with the session and a token: %d, want 400", r.StatusCode)
	}

	req, _ = http.NewRequest(http.MethodPost, l.srv.URL+"/micropub/media", strings.NewReader(del))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(ui.CSRFHeader, csrf)
	r, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK || l.onBranch(t, path) {
		t.Fatalf("delete with the session: %d, file on branch %v; want 200 and gone", r.StatusCode, l.onBranch(t, path))
	}
	if strings.Contains(l.logs.String(), ownerToken) || strings.Contains(l.logs.String(), csrf) {
		t.Error("a token or CSRF token reached the log")
	}
}
