package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDefault pins SPEC.md's defaults: other packages and users rely on them.
func TestDefault(t *testing.T) {
	want := Config{
		Listen:       "127.0.0.1:8080",
		EndpointPath: "/micropub/media",
		DataDir:      "./spano-data",
		Site: SiteConfig{Generator: "jekyll", DataDir: "_data", Records: true, CheckLive: true,
			LiveTimeout: Duration(30 * time.Minute)},
		Repo: RepoConfig{
			Path: "./spano-data/site.git", Branch: "main", Push: PushSync,
			AuthorName: "spano", AuthorEmail: "spano@localhost", MaxFileSize: 100_000_000, WarnSize: 800_000_000,
		},
		Media: MediaConfig{
			Dir: "media", URLPath: "/media", Depth: 2, Width: 2, MaxSize: 50_000_000,
			Types: []string{"audio/mp4", "audio/mpeg", "audio/ogg", "image/avif", "image/gif", "image/heic",
				"image/heif", "image/jpeg", "image/png", "image/webp", "video/mp4", "video/quicktime", "video/webm"},
			StripGPS: true,
		},
		Thumbnails: ThumbnailsConfig{Widths: []int{320, 640, 1280}, Formats: []string{"same"}, Quality: 82, MaxPixels: 50_000_000},
		Auth: AuthConfig{
			Discover: true, Scopes: []string{"media", "create"}, DeleteScopes: []string{"delete"},
			CacheTTL: Duration(2 * time.Minute),
		},
		CORS: CORSConfig{Origins: []string{"*"}},
		Storage: StorageConfig{
			S3:      S3Config{Region: "auto", Prefix: "media"},
			Offload: OffloadConfig{MinSize: 20_000_000, Types: []string{"video/*"}},
		},
		Video: VideoConfig{FFmpeg: "ffmpeg"},
		UI:    UIConfig{Enabled: true, Path: "/"},
		Limits: LimitsConfig{
			MaxConnections: 4096, ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout: Duration(2 * time.Minute), WriteTimeout: Duration(time.Minute),
			MinBodyBytes: 4096, MinBodyWindow: Duration(30 * time.Second),
			MaxSpools: 64, MaxUnidentifiedSpools: 16, MinFree: 1_000_000_000, TrustedProxies: []string{},
			TokenNegativeTTL: Duration(30 * time.Second), TokenFailuresPerMinute: 20,
			TokenEndpointRate: 10, TokenEndpointBurst: 50,
		},
		Hooks: []HookConfig{},
		Log:   LogConfig{Format: "text", Level: "info"},
	}
	if diff := cmp.Diff(Default(), want); diff != "" {
		t.Errorf("Default() (-got +want):\n%s", diff)
	}
}

func TestDefaultDoesNotShareSlices(t *testing.T) {
	a := Default()
	first := Default().Media.Types[0]
	a.Media.Types[0] = "changed"
	a.Thumbnails.Widths[0] = 1
	a.Auth.Scopes[0] = "changed"
	a.CORS.Origins[0] = "changed"
	b := Default()
	if b.Media.Types[0] != first || b.Thumbnails.Widths[0] != 320 || b.Auth.Scopes[0] != "media" || b.CORS.Origins[0] != "*" {
		t.Errorf("Default() shares slices between calls: %+v", b)
	}
	if got := SupportedTypes(); got[0] != first {
		t.Errorf("SupportedTypes() shares its slice: %v", got)
	}
}

func TestEmbedded(t *testing.T) {
	tests := []struct {
		listen  string
		wantURL string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost:9000", "http://localhost:9000"},
		{":8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://[::1]:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			c := Embedded(tt.listen)
			want := Default()
			want.Listen = tt.listen
			want.Repo.Push = PushOff
			want.Media.Serve = true
			want.Site.URL = tt.wantURL
			want.BaseURL = tt.wantURL
			want.Auth.Me = tt.wantURL + "/"
			want.Auth.Discover = false
			if diff := cmp.Diff(c, want); diff != "" {
				t.Errorf("Embedded(%q) (-got +want):\n%s", tt.listen, diff)
			}
			if got, want := c.Repo.Path, "./spano-data/site.git"; got != want {
				t.Errorf("repo.path = %q, want %q", got, want)
			}
			if c.Repo.Remote != "" || len(c.Auth.Tokens) != 0 {
				t.Errorf("remote %q, tokens %v: want none", c.Repo.Remote, c.Auth.Tokens)
			}
		})
	}
}

// TestEmbeddedValidatesOnceTokenAdded follows what cmd does: Embedded alone
// has no way to check tokens, the generated static token gives it one.
func TestEmbeddedValidatesOnceTokenAdded(t *testing.T) {
	c := Embedded("127.0.0.1:8080")
	if got, want := errorKeys(c.Validate()), []string{"auth"}; !cmp.Equal(got, want) {
		t.Errorf("Embedded().Validate() keys = %v, want %v", got, want)
	}
	c.Auth.Tokens = append(c.Auth.Tokens, StaticToken{SHA256: strings.Repeat("0f", 32), Scope: "media create delete"})
	if err := c.Validate(); err != nil {
		t.Errorf("Embedded() with a token: %v", err)
	}
}

func TestSetListen(t *testing.T) {
	c := mustParse(t, complete(""), nil)
	c.SetListen("0.0.0.0:9999")
	if got, want := c.Listen, "0.0.0.0:9999"; got != want {
		t.Errorf("listen = %q, want %q", got, want)
	}
	if got, want := c.BaseURL, "https://media.example.com"; got != want {
		t.Errorf("base_url changed to %q, want %q", got, want)
	}
}
