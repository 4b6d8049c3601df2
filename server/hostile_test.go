package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spano/indieauth"
	"spano/netlimit"
)

// TestHostileRequests holds the regression tests of issue 15's rows that
// the access log and the query answer: long paths, echoed values, sniffing.
func TestHostileRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+goodToken)
		resp := e.do(req)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	t.Run("a 900 KB path is logged cut short", func(t *testing.T) {
		long := "/" + strings.Repeat("a", 900<<10)
		before := e.logs.Len()
		resp, _ := get(t, long)
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusRequestURITooLong && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := e.logs.Len() - before; n > 4<<10 {
			t.Errorf("one request made %d bytes of log", n)
		}
	})

	t.Run("q=<script> is not echoed, and answers are not sniffed", func(t *testing.T) {
		resp, body := get(t, "/micropub/media?q="+url.QueryEscape("<script>alert(1)</script>"))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "alert") {
			t.Errorf("body echoes the query: %s", body)
		}
		var eb errorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error != codeInvalidRequest || !strings.Contains(eb.Description, "q=config") {
			t.Errorf("body %s, want invalid_request naming the queries", body)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q", got)
		}
	})

	t.Run("every JSON answer says nosniff", func(t *testing.T) {
		for _, path := range []string{"/micropub/media?q=config", "/healthz", "/nowhere"} {
			resp, _ := get(t, path)
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options = %q", path, got)
			}
		}
	})
}

func TestRateLimitedIs429(t *testing.T) {
	e := classify(fmt.Errorf("verify token: %w", indieauth.ErrRateLimited))
	if e == nil || e.Status != http.StatusTooManyRequests || e.Header.Get("Retry-After") == "" {
		t.Fatalf("classify = %+v, want 429 with Retry-After", e)
	}
}

func TestTooSlowIs408(t *testing.T) {
	err := partError(fmt.Errorf("spool: read: %w", netlimit.ErrTooSlow))
	if e := classify(err); e == nil || e.Status != http.StatusRequestTimeout {
		t.Fatalf("classify = %+v, want 408", e)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate at the cap = %q", got)
	}
	if got, want := truncate("abcdef", 3), "abc…(6 bytes)"; got != want {
		t.Errorf("truncate = %q, want %q", got, want)
	}
}
