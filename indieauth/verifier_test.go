package indieauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func sha(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

func TestStaticTokens(t *testing.T) {
	e := newEndpoint(t, jsonReply(200, `{"me":"https://example.com/","scope":"create"}`))
	v := newVerifier(t, Options{
		Me: "HTTPS://Example.com",
		Static: []StaticToken{
			{SHA256: sha("first-static"), Scope: "media delete"},
			{SHA256: strings.ToUpper(sha("second-static")), Scope: "media,create"},
		},
		TokenEndpoint: e.URL,
	})
	tests := []struct {
		name       string
		token      string
		wantScopes []string
		wantCalls  int64
	}{
		{name: "first", token: "first-static", wantScopes: []string{"media", "delete"}},
		{name: "second, digest in upper case", token: "second-static", wantScopes: []string{"media", "create"}},
		{name: "not static goes to the endpoint", token: "other", wantScopes: []string{"create"}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.calls.Load()
			got, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Me != testMe {
				t.Errorf("Me = %q, want %q", got.Me, testMe)
			}
			if !slices.Equal(got.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q, want %q", got.Scopes, tt.wantScopes)
			}
			if got.ClientID != "" || !got.Expires.IsZero() {
				t.Errorf("ClientID, Expires = %q, %v; want none", got.ClientID, got.Expires)
			}
			if calls := e.calls.Load() - before; calls != tt.wantCalls {
				t.Errorf("endpoint calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestStaticTokensAlone(t *testing.T) {
	v := newVerifier(t, Options{Static: []StaticToken{{SHA256: sha("s3cret"), Scope: "media"}}})
	if _, err := v.Verify(context.Background(), "s3cret"); err != nil {
		t.Fatalf("Verify(static) = %v", err)
	}
	if _, err := v.Verify(context.Background(), "s3cre"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(other) = %v, want ErrInvalidToken", err)
	}
	// The returned scopes are the caller's to change.
	got, _ := v.Verify(context.Background(), "s3cret")
	got.Scopes[0] = "delete"
	if again, _ := v.Verify(context.Background(), "s3cret"); !slices.Equal(again.Scopes, []string{"media"}) {
		t.Errorf("Scopes after a caller changed its copy = %q", again.Scopes)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantKey string // the config key the error must name
	}{
		{name: "me missing", opts: Options{Static: []StaticToken{{SHA256: sha("x")}}}, wantKey: "auth.me"},
		{name: "me without scheme", opts: Options{Me: "example.com", Static: []StaticToken{{SHA256: sha("x")}}}, wantKey: "auth.me"},
		{name: "digest not hex", opts: Options{Me: testMe, Static: []StaticToken{{SHA256: sha("x")}, {SHA256: strings.Repeat("z", 64)}}}, wantKey: "auth.tokens[1].sha256"},
		{name: "digest too short", opts: Options{Me: testMe, Static: []StaticToken{{SHA256: "abcd"}}}, wantKey: "auth.tokens[0].sha256"},
		{name: "the token instead of its digest", opts: Options{Me: testMe, Static: []StaticToken{{SHA256: "s3cret"}}}, wantKey: "auth.tokens[0].sha256"},
		{name: "plain http token endpoint", opts: Options{Me: testMe, TokenEndpoint: "http://auth.example/token"}, wantKey: "auth.token_endpoint"},
		{name: "relative introspection endpoint", opts: Options{Me: testMe, IntrospectionEndpoint: "/introspect"}, wantKey: "auth.introspection_endpoint"},
		{name: "nothing to verify with", opts: Options{Me: testMe}, wantKey: "no token could ever be accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(context.Background(), tt.opts)
			if err == nil {
				t.Fatalf("New = %v, want an error", v.Mode())
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("New error %q does not name %q", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("New error %q repeats the secret", err)
			}
		})
	}
}

func TestVerifyRejectsBeforeAsking(t *testing.T) {
	e := newEndpoint(t, jsonReply(200, `{"me":"https://example.com/"}`))
	v := newVerifier(t, Options{TokenEndpoint: e.URL})
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "empty", token: "", wantErr: ErrNoToken},
		{name: "space inside", token: "abc def", wantErr: ErrInvalidToken},
		{name: "header injection", token: "abc\r\nX-Evil: 1", wantErr: ErrInvalidToken},
		{name: "control character", token: "abc\x00", wantErr: ErrInvalidToken},
		{name: "non-ascii", token: "abcé", wantErr: ErrInvalidToken},
		{name: "absurdly long", token: strings.Repeat("a", maxTokenLen+1), wantErr: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tt.token); !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if n := e.calls.Load(); n != 0 {
		t.Errorf("endpoint called %d times for malformed tokens", n)
	}
	if _, err := v.Verify(context.Background(), strings.Repeat("a", maxTokenLen)); err != nil {
		t.Errorf("Verify(longest allowed token) = %v", err)
	}
}

// TestEndpointOrder checks which endpoint decides when both are known.
func TestEndpointOrder(t *testing.T) {
	active := jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"introspected"}`)
	legacyOK := jsonReply(200, `{"me":"https://example.com/","scope":"legacy"}`)
	tests := []struct {
		name              string
		bearer            string
		introspection     http.HandlerFunc
		legacy            http.HandlerFunc
		wantScopes        []string
		wantErr           error
		wantLegacyCalled  bool
		wantIntrospection bool
	}{
		{name: "introspection decides", introspection: active, legacy: legacyOK, wantScopes: []string{"introspected"}},
		{name: "inactive is final", introspection: jsonReply(200, `{"active":false}`), legacy: legacyOK, wantErr: ErrInvalidToken},
		{name: "introspection down, legacy answers", introspection: jsonReply(503, `{}`), legacy: legacyOK,
			wantScopes: []string{"legacy"}, wantLegacyCalled: true},
		{name: "introspection html, legacy answers", introspection: typedReply("text/html", 200, "<p>hi</p>"), legacy: legacyOK,
			wantScopes: []string{"legacy"}, wantLegacyCalled: true},
		{name: "both down", introspection: jsonReply(500, `{}`), legacy: jsonReply(500, `{}`),
			wantErr: ErrUnavailable, wantLegacyCalled: true},
		{name: "token refused as credential, legacy answers", introspection: jsonReply(401, `{}`), legacy: legacyOK,
			wantScopes: []string{"legacy"}, wantLegacyCalled: true},
		{name: "token refused as credential, legacy refuses too", introspection: jsonReply(401, `{}`), legacy: jsonReply(401, `{}`),
			wantErr: ErrInvalidToken, wantLegacyCalled: true},
		{name: "our credential refused is final", bearer: "secret", introspection: jsonReply(403, `{}`), legacy: legacyOK,
			wantErr: ErrMisconfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newEndpoint(t, tt.introspection)
			leg := newEndpoint(t, tt.legacy)
			v := newVerifier(t, Options{IntrospectionEndpoint: in.URL, TokenEndpoint: leg.URL, IntrospectionBearer: tt.bearer})
			got, err := v.Verify(context.Background(), "tok")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q, want %q", got.Scopes, tt.wantScopes)
			}
			if got := in.calls.Load(); got != 1 {
				t.Errorf("introspection calls = %d, want 1", got)
			}
			if got := leg.calls.Load() == 1; got != tt.wantLegacyCalled {
				t.Errorf("legacy endpoint called = %v, want %v", got, tt.wantLegacyCalled)
			}
		})
	}
}

func TestCacheLifetime(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration
		expIn    time.Duration // 0: the reply has no exp
		advance  time.Duration
		wantCall bool // whether the second verification asks the endpoint
		wantErr  error
	}{
		{name: "within ttl", ttl: time.Minute, advance: 59 * time.Second},
		{name: "ttl over", ttl: time.Minute, advance: time.Minute, wantCall: true},
		{name: "exp before ttl ends", ttl: time.Hour, expIn: 30 * time.Second, advance: 30 * time.Second,
			wantCall: true, wantErr: ErrInvalidToken},
		{name: "exp after ttl ends", ttl: time.Minute, expIn: time.Hour, advance: 30 * time.Second},
		{name: "no caching", ttl: 0, advance: 0, wantCall: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				exp := ""
				if tt.expIn > 0 {
					exp = fmt.Sprintf(`,"exp":%d`, time.Unix(now, 0).Add(tt.expIn).Unix())
				}
				jsonReply(200, `{"active":true,"me":"https://example.com/"`+exp+`}`)(w, r)
			})
			v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: tt.ttl, Now: c.Now})
			if _, err := v.Verify(context.Background(), "tok"); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			c.Add(tt.advance)
			_, err := v.Verify(context.Background(), "tok")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("second Verify error = %v, want %v", err, tt.wantErr)
			}
			if got := e.calls.Load() == 2; got != tt.wantCall {
				t.Errorf("second verification asked the endpoint = %v, want %v", got, tt.wantCall)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	c := newClock()
	e := newEndpoint(t, jsonReply(200, `{"active":true,"me":"https://example.com/"}`))
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: time.Hour, CacheSize: 3, Now: c.Now})
	for i := range 10 {
		c.Add(time.Second)
		if _, err := v.Verify(context.Background(), fmt.Sprintf("tok-%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > 3 {
			t.Fatalf("cache holds %d entries, limit 3", n)
		}
	}
	calls := e.calls.Load()
	for _, tok := range []string{"tok-7", "tok-8", "tok-9"} { // the newest stay
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.calls.Load() - calls; got != 0 {
		t.Errorf("newest tokens needed %d endpoint calls, want 0 (cached)", got)
	}
	if _, err := v.Verify(context.Background(), "tok-0"); err != nil { // the oldest went
		t.Fatal(err)
	}
	if got := e.calls.Load() - calls; got != 1 {
		t.Errorf("oldest token needed %d endpoint calls, want 1 (evicted)", got)
	}
}

func TestCacheDropsExpiredFirst(t *testing.T) {
	c := newCache(2)
	start := time.Unix(now, 0)
	keys := [][32]byte{{1}, {2}, {3}}
	c.put(keys[0], Token{Me: "a"}, start.Add(time.Second), start)
	c.put(keys[1], Token{Me: "b"}, start.Add(time.Hour), start)
	c.put(keys[2], Token{Me: "c"}, start.Add(time.Hour), start.Add(2*time.Second)) // keys[0] has expired
	later := start.Add(3 * time.Second)
	for i, want := range []bool{false, true, true} {
		if _, ok := c.get(keys[i], later); ok != want {
			t.Errorf("entry %d cached = %v, want %v", i, ok, want)
		}
	}
	if got := c.len(); got != 2 {
		t.Errorf("cache len = %d, want 2", got)
	}
}

func TestMode(t *testing.T) {
	down := newEndpoint(t, jsonReply(200, "{}"))
	down.Close()
	one := []StaticToken{{SHA256: sha("a")}}
	two := []StaticToken{{SHA256: sha("a")}, {SHA256: sha("b")}}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "one static token", opts: Options{Static: one}, want: "1 static token"},
		{name: "static and introspection", opts: Options{Static: two, IntrospectionEndpoint: "https://auth.example/introspect"},
			want: "2 static tokens + introspection https://auth.example/introspect"},
		{name: "legacy only", opts: Options{TokenEndpoint: "https://auth.example/token"},
			want: "token endpoint https://auth.example/token"},
		{name: "both endpoints, discovery not needed", opts: Options{Discover: true,
			IntrospectionEndpoint: "https://auth.example/i", TokenEndpoint: "https://auth.example/t"},
			want: "introspection https://auth.example/i + token endpoint https://auth.example/t"},
		{name: "discovery failed", opts: Options{Static: one, Discover: true, Me: down.URL},
			want: "1 static token + discovery from " + down.URL + "/ (not yet successful)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newVerifier(t, tt.opts).Mode(); got != tt.want {
				t.Errorf("Mode = %q, want %q", got, tt.want)
			}
		})
	}
}
