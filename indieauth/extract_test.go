package indieauth

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		headers   []string // Authorization values
		bodyToken string
		want      string
		wantErr   error
	}{
		{name: "bearer header", url: "/m", headers: []string{"Bearer abc"}, want: "abc"},
		{name: "scheme lower case", url: "/m", headers: []string{"bearer abc"}, want: "abc"},
		{name: "scheme upper case", url: "/m", headers: []string{"BEARER abc"}, want: "abc"},
		{name: "extra spaces", url: "/m", headers: []string{"  Bearer   abc  "}, want: "abc"},
		{name: "query parameter", url: "/m?access_token=abc", want: "abc"},
		{name: "query parameter escaped", url: "/m?access_token=a%2Bb%3D", want: "a+b="},
		{name: "body", url: "/m", bodyToken: "abc", want: "abc"},
		{name: "none", url: "/m", wantErr: ErrNoToken},
		{name: "other scheme is not a token", url: "/m", headers: []string{"Basic dXNlcjpwdw=="}, wantErr: ErrNoToken},
		{name: "bearer without token", url: "/m", headers: []string{"Bearer"}, wantErr: ErrNoToken},
		{name: "bearer with only space", url: "/m", headers: []string{"Bearer   "}, wantErr: ErrNoToken},
		{name: "empty query parameter", url: "/m?access_token=", wantErr: ErrNoToken},
		{name: "other scheme beside a body token", url: "/m", headers: []string{"Basic dXNlcjpwdw=="}, bodyToken: "abc", want: "abc"},
		{name: "header and body", url: "/m", headers: []string{"Bearer abc"}, bodyToken: "def", wantErr: ErrMultipleTokens},
		{name: "header and body same token", url: "/m", headers: []string{"Bearer abc"}, bodyToken: "abc", wantErr: ErrMultipleTokens},
		{name: "header and query", url: "/m?access_token=def", headers: []string{"Bearer abc"}, wantErr: ErrMultipleTokens},
		{name: "query and body", url: "/m?access_token=abc", bodyToken: "abc", wantErr: ErrMultipleTokens},
		{name: "two headers", url: "/m", headers: []string{"Bearer abc", "Bearer def"}, wantErr: ErrMultipleTokens},
		{name: "two query parameters", url: "/m?access_token=abc&access_token=def", wantErr: ErrMultipleTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.url, strings.NewReader("access_token=fromthebody"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := Extract(r, tt.bodyToken)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Extract error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Extract = %q, want %q", got, tt.want)
			}
			// Extract must leave the body to the caller.
			if r.PostForm != nil {
				t.Error("Extract parsed the body")
			}
			if rest, err := io.ReadAll(r.Body); err != nil || string(rest) != "access_token=fromthebody" {
				t.Errorf("body after Extract = %q, %v; want it unread", rest, err)
			}
		})
	}
}
