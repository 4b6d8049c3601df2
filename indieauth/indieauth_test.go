package indieauth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testMe is the auth.me of most tests.
const testMe = "https://example.com/"

// clock is an injectable clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// endpoint is a real HTTP server standing in for an IndieAuth server; it
// counts the requests it gets.
type endpoint struct {
	*httptest.Server
	calls atomic.Int64
}

func newEndpoint(t testing.TB, h http.HandlerFunc) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

// testLogger logs everything into a buffer the test can read afterwards.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// newVerifier builds a Verifier with a test clock and a captured log,
// failing the test if New does.
func newVerifier(t *testing.T, opts Options) *Verifier {
	t.Helper()
	if opts.Me == "" {
		opts.Me = testMe
	}
	if opts.Logger == nil {
		opts.Logger, _ = newLogger()
	}
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func TestCanonicalMe(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "already canonical", in: "https://example.com/", want: "https://example.com/"},
		{name: "empty path gets slash", in: "https://example.com", want: "https://example.com/"},
		{name: "scheme and host lower-cased", in: "HTTPS://Example.COM/", want: "https://example.com/"},
		{name: "path case kept", in: "https://example.com/Alice/", want: "https://example.com/Alice/"},
		{name: "fragment dropped", in: "https://example.com/#me", want: "https://example.com/"},
		{name: "query kept", in: "https://example.com/?u=1", want: "https://example.com/?u=1"},
		{name: "default https port dropped", in: "https://example.com:443/", want: "https://example.com/"},
		{name: "default http port dropped", in: "http://example.com:80", want: "http://example.com/"},
		{name: "other port kept", in: "https://example.com:8443", want: "https://example.com:8443/"},
		{name: "ipv6 with port", in: "http://[::1]:8080", want: "http://[::1]:8080/"},
		{name: "ipv6 default port", in: "https://[::1]:443/", want: "https://[::1]/"},
		{name: "surrounding space", in: " https://example.com/ ", want: "https://example.com/"},
		{name: "no scheme", in: "example.com", wantErr: true},
		{name: "other scheme", in: "ftp://example.com/", wantErr: true},
		{name: "user info", in: "https://me:pw@example.com/", wantErr: true},
		{name: "no host", in: "https:///path", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "unparsable", in: "https://exa mple.com/%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalMe(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanonicalMe(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("CanonicalMe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHasAnyScope(t *testing.T) {
	tests := []struct {
		name   string
		have   []string
		needed []string
		want   bool
	}{
		{name: "one of several", have: []string{"create", "update"}, needed: []string{"media", "create"}, want: true},
		{name: "exact", have: []string{"media"}, needed: []string{"media"}, want: true},
		{name: "repost is not post", have: []string{"repost"}, needed: []string{"post"}, want: false},
		{name: "prefix is not the word", have: []string{"med"}, needed: []string{"media"}, want: false},
		{name: "case matters", have: []string{"Media"}, needed: []string{"media"}, want: false},
		{name: "no scopes", have: nil, needed: []string{"media"}, want: false},
		{name: "nothing needed is never satisfied", have: []string{"media"}, needed: nil, want: false},
		{name: "empty word never matches", have: []string{""}, needed: []string{""}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Token{Scopes: tt.have}).HasAnyScope(tt.needed); got != tt.want {
				t.Errorf("HasAnyScope(%q) with %q = %v, want %v", tt.needed, tt.have, got, tt.want)
			}
		})
	}
}

func TestSplitScope(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "spaces", in: "create media", want: []string{"create", "media"}},
		{name: "commas", in: "create,media", want: []string{"create", "media"}},
		{name: "comma and space", in: "create, media", want: []string{"create", "media"}},
		{name: "extra space", in: "  create   media ", want: []string{"create", "media"}},
		{name: "duplicates dropped", in: "media media", want: []string{"media"}},
		{name: "empty", in: "", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitScope(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("splitScope(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
