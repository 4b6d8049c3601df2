package indieauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// validFor answers introspection: "good" tokens are active for testMe,
// everything else inactive.
func validFor(good ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		for _, g := range good {
			if r.PostForm.Get("token") == g {
				jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media","client_id":"https://app.example/"}`)(w, r)
				return
			}
		}
		jsonReply(200, `{"active":false}`)(w, r)
	}
}

func fromAddr(addr string) context.Context {
	return context.WithValue(context.Background(), clientKey{}, netip.MustParseAddr(addr))
}

// TestTokenFlood is issue 15's row: 2,000 random tokens made 2,000 calls
// to the owner's IndieAuth server in 4 s. Each case sends 2,000 and
// counts the calls; the owner's tokens must still work afterwards.
func TestTokenFlood(t *testing.T) {
	const owner = "owner-token"
	static := randomToken(t)
	tests := []struct {
		name      string
		addr      func(i int) string // the flood's client address per request
		token     func(i int) string
		wantCalls int64 // at most
		wantErr   error // what the last flood request gets
	}{
		{name: "one bad token replayed", addr: func(int) string { return "198.51.100.7" },
			token: func(int) string { return "bad-token" }, wantCalls: 1, wantErr: ErrInvalidToken},
		{name: "random tokens from one address", addr: func(int) string { return "198.51.100.7" },
			token: func(i int) string { return fmt.Sprint("rand-", i) }, wantCalls: DefaultFailuresPerMinute, wantErr: ErrRateLimited},
		{name: "random tokens from one IPv6 /64", addr: func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) },
			token: func(i int) string { return fmt.Sprint("rand-", i) }, wantCalls: DefaultFailuresPerMinute, wantErr: ErrRateLimited},
		{name: "random tokens from 2,000 addresses", addr: func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250+1) },
			token: func(i int) string { return fmt.Sprint("rand-", i) }, wantCalls: DefaultEndpointBurst, wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, validFor(owner))
			clk := newClock()
			v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: 2 * time.Minute, Now: clk.Now,
				Static: []StaticToken{{SHA256: sha(static), Scope: "media"}}})
			// The owner used an endpoint token before the flood; its cache
			// entry expires during it.
			if _, err := v.Verify(fromAddr("192.0.2.1"), owner); err != nil {
				t.Fatalf("owner before the flood: %v", err)
			}
			clk.Add(3 * time.Minute)
			before := e.calls.Load()
			var err error
			for i := 0; i < 2000; i++ {
				_, err = v.Verify(fromAddr(tt.addr(i)), tt.token(i))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("last flood request: %v, want %v", err, tt.wantErr)
			}
			if got := e.calls.Load() - before; got > tt.wantCalls {
				t.Errorf("%d endpoint calls for the flood, want at most %d", got, tt.wantCalls)
			}
			for name, tok := range map[string]string{"static": static, "endpoint": owner} {
				if _, err := v.Verify(fromAddr(tt.addr(0)), tok); err != nil {
					t.Errorf("owner's %s token during the flood: %v", name, err)
				}
			}
		})
	}
}

// TestFloodWithoutEndpoint: with static tokens only there is nothing to
// ask, so a flood of made-up tokens from many addresses is refused as
// invalid (401), never as an unavailable endpoint (503) — CI's fuzzing of
// POST found the 503 once the endpoint budget had been spent on calls
// that were never made.
func TestFloodWithoutEndpoint(t *testing.T) {
	static := randomToken(t)
	v := newVerifier(t, Options{Static: []StaticToken{{SHA256: sha(static), Scope: "media"}}})
	for i := 0; i < 2000; i++ {
		addr := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
		if _, err := v.Verify(fromAddr(addr), fmt.Sprint("made-up-", i)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("made-up token %d: %v, want %v", i, err, ErrInvalidToken)
		}
	}
	if _, err := v.Verify(fromAddr("10.1.0.1"), static); err != nil {
		t.Errorf("static token after the flood: %v", err)
	}
}

func TestNegativeCacheExpires(t *testing.T) {
	granted := false
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if granted {
			validFor("new-token")(w, r)
			return
		}
		validFor()(w, r)
	})
	clk := newClock()
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, Now: clk.Now})
	if _, err := v.Verify(context.Background(), "new-token"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("before grant: %v", err)
	}
	granted = true // the owner has just created it
	if _, err := v.Verify(context.Background(), "new-token"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("within NegativeTTL: %v, want the remembered rejection", err)
	}
	clk.Add(DefaultNegativeTTL)
	if _, err := v.Verify(context.Background(), "new-token"); err != nil {
		t.Fatalf("after NegativeTTL: %v", err)
	}
	if got := e.calls.Load(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}

func TestFailuresRecover(t *testing.T) {
	e := newEndpoint(t, validFor("good"))
	clk := newClock()
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, Now: clk.Now, FailuresPerMinute: 2})
	ctx := fromAddr("198.51.100.9")
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(ctx, fmt.Sprint("bad", i)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := v.Verify(ctx, "good"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a new token after the limit: %v, want ErrRateLimited", err)
	}
	if _, err := v.Verify(fromAddr("198.51.100.10"), "good"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clk.Add(30 * time.Second) // one failure regained
	if _, err := v.Verify(ctx, "bad9"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after 30 s: %v, want an endpoint answer", err)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
	}{
		{name: "direct", remote: "203.0.113.5:4000", want: "203.0.113.5"},
		{name: "forwarded but no proxy trusted", remote: "10.0.0.2:4000", xff: []string{"203.0.113.5"}, want: "10.0.0.2"},
		{name: "forwarded from an untrusted peer", remote: "198.51.100.1:4000", xff: []string{"203.0.113.5"}, trusted: trusted, want: "198.51.100.1"},
		{name: "trusted proxy", remote: "10.0.0.2:4000", xff: []string{"203.0.113.5"}, trusted: trusted, want: "203.0.113.5"},
		{name: "client-written hops are skipped", remote: "10.0.0.2:4000", xff: []string{"1.2.3.4, 203.0.113.5"}, trusted: trusted, want: "203.0.113.5"},
		{name: "two proxies", remote: "10.0.0.2:4000", xff: []string{"203.0.113.5, 10.0.0.9"}, trusted: trusted, want: "203.0.113.5"},
		{name: "two headers", remote: "10.0.0.2:4000", xff: []string{"1.2.3.4", "203.0.113.5"}, trusted: trusted, want: "203.0.113.5"},
		{name: "garbage left of the proxy's hop", remote: "10.0.0.2:4000", xff: []string{"<script>, 10.0.0.9"}, trusted: trusted, want: "10.0.0.9"},
		{name: "ipv6 loopback proxy", remote: "[::1]:4000", xff: []string{"2001:db8::1"}, trusted: trusted, want: "2001:db8::1"},
		{name: "mapped v4", remote: "[::ffff:203.0.113.5]:4000", want: "203.0.113.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, h := range tt.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := ClientAddr(r, tt.trusted); got.String() != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRedirectOffHost is issue 15's row: an introspection endpoint
// answering 307 or 308 to another host got the user's token re-posted
// there.
func TestRedirectOffHost(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			thief := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				t.Errorf("the other host got %s %q with Authorization %q", r.Method, b, r.Header.Get("Authorization"))
				validFor("secret-token")(w, r)
			})
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, thief.URL+"/steal", status)
			})
			for name, client := range map[string]*http.Client{"own client": nil, "given client": {Timeout: time.Second}} {
				v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, HTTPClient: client})
				if _, err := v.Verify(context.Background(), "secret-token"); !errors.Is(err, ErrUnavailable) {
					t.Errorf("%s: %v, want ErrUnavailable", name, err)
				}
			}
			if thief.calls.Load() != 0 {
				t.Errorf("%d requests reached the other host", thief.calls.Load())
			}
		})
	}
	// On the same host a redirect is still followed.
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/moved" {
			http.Redirect(w, r, "/moved", http.StatusPermanentRedirect)
			return
		}
		validFor("tok")(w, r)
	})
	if _, err := newVerifier(t, Options{IntrospectionEndpoint: e.URL}).Verify(context.Background(), "tok"); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
}

func TestCleanClientID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "https://quill.p3k.io/", want: "https://quill.p3k.io/"},
		{name: "bidi override", in: "https://app.example/\u202egpj.exe", want: "https://app.example/gpj.exe"},
		{name: "isolates and marks", in: "\u2066https://a.example/\u2069\u200f\u061c", want: "https://a.example/"},
		{name: "C1 and C0 controls", in: "https://a.example/\u0085\u009b31m\x1b[0m\n", want: "https://a.example/31m[0m"},
		{name: "zero width and BOM", in: "https://a\u200b.exa\ufeffmple/", want: "https://a.example/"},
		{name: "line separator", in: "a\u2028b\u2029c", want: "abc"},
		{name: "invalid UTF-8", in: "https://a.example/\xff\xfe", want: "https://a.example/"},
		{name: "non-Latin kept", in: "https://例え.jp/", want: "https://例え.jp/"},
		{name: "too long", in: "https://a.example/" + strings.Repeat("é", 400), want: ("https://a.example/" + strings.Repeat("é", 400))[:512]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanClientID(tt.in); got != tt.want {
				t.Errorf("cleanClientID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// Where the Token is made: the endpoint's client_id arrives cleaned.
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		jsonReply(200, `{"active":true,"me":"https://example.com/","client_id":"https://evil.example/\u202e\u0085x"}`)(w, r)
	})
	tok, err := newVerifier(t, Options{IntrospectionEndpoint: e.URL}).Verify(context.Background(), "t")
	if err != nil || tok.ClientID != "https://evil.example/x" {
		t.Errorf("ClientID = %q, %v", tok.ClientID, err)
	}
}

// TestMiddlewareRecordsTheClient: through Middleware, Verify knows the
// request's address, so the failure limit applies to HTTP clients.
func TestMiddlewareRecordsTheClient(t *testing.T) {
	e := newEndpoint(t, validFor())
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, FailuresPerMinute: 3})
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r.Context(), r.URL.Query().Get("t"))
		switch {
		case errors.Is(err, ErrRateLimited):
			w.WriteHeader(http.StatusTooManyRequests)
		case errors.Is(err, ErrInvalidToken):
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})))
	defer srv.Close()
	var got []int
	for i := 0; i < 5; i++ {
		resp, err := http.Get(fmt.Sprintf("%s/?t=bad-%d", srv.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	if want := []int{401, 401, 401, 429, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("%d endpoint calls, want 3", n)
	}
}
