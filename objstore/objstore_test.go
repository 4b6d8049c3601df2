package objstore

import (
	"strings"
	"testing"

	"spano/hashstore"
)

func validOptions() Options {
	return Options{
		Endpoint: "https://acct.r2.cloudflarestorage.com", Region: "auto", Bucket: "media",
		Prefix: "media", Depth: 2, Width: 2, AccessKey: "k", SecretKey: "s",
		PublicURL: "https://media.example.com/",
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string // "" = valid
	}{
		{"valid", func(*Options) {}, ""},
		{"http on loopback", func(o *Options) { o.Endpoint = "http://127.0.0.1:9000" }, ""},
		{"http on localhost", func(o *Options) { o.Endpoint = "http://localhost:9000" }, ""},
		{"http on ::1", func(o *Options) { o.Endpoint = "http://[::1]:9000" }, ""},
		{"no prefix", func(o *Options) { o.Prefix = "" }, ""},
		{"flat layout", func(o *Options) { o.Depth, o.Width = 0, 0 }, ""},
		{"http elsewhere", func(o *Options) { o.Endpoint = "http://s3.example.com" }, "only on loopback"},
		{"no scheme", func(o *Options) { o.Endpoint = "s3.example.com" }, "scheme and host only"},
		{"ftp", func(o *Options) { o.Endpoint = "ftp://s3.example.com" }, "must start with https://"},
		{"path in endpoint", func(o *Options) { o.Endpoint = "https://s3.example.com/bucket" }, "scheme and host only"},
		{"credentials in endpoint", func(o *Options) { o.Endpoint = "https://k:s@s3.example.com" }, "scheme and host only"},
		{"no bucket", func(o *Options) { o.Bucket = "" }, "bucket is empty"},
		{"no secret", func(o *Options) { o.SecretKey = "" }, "secret key is empty"},
		{"prefix with slash", func(o *Options) { o.Prefix = "media/" }, "must not start or end"},
		{"prefix with dotdot", func(o *Options) { o.Prefix = "a/../b" }, "empty, . or .."},
		{"prefix with empty folder", func(o *Options) { o.Prefix = "a//b" }, "empty, . or .."},
		{"public url not a url", func(o *Options) { o.PublicURL = "media.example.com" }, "not an http(s) URL"},
		{"no public url", func(o *Options) { o.PublicURL = "" }, "not an http(s) URL"},
		{"public url with a query", func(o *Options) { o.PublicURL = "https://cdn.example.com/m?x=1" }, "not an http(s) URL"},
		{"depth without width", func(o *Options) { o.Width = 0 }, "out of range"},
		{"too deep", func(o *Options) { o.Depth = 9 }, "out of range"},
		{"part too small", func(o *Options) { o.PartSize = 1 << 20 }, "not in 5MiB..5GiB"},
		{"negative parallel", func(o *Options) { o.Parallel = -1 }, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.edit(&o)
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestKeyMatchesRepositoryLayout holds Key to hashstore's layout, the
// owner of the shard rule, for every depth and width both accept.
func TestKeyMatchesRepositoryLayout(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, prefix := range []string{"media", "site/media", ""} {
		for depth := 0; depth <= 3; depth++ {
			for width := 1; width <= 4; width++ {
				if depth == 0 && width > 1 {
					continue
				}
				o := validOptions()
				o.Prefix, o.Depth, o.Width = prefix, depth, width
				if depth == 0 {
					o.Width = 0
				}
				s, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				hs, err := hashstore.New(hashstore.Options{TempDir: t.TempDir(), MaxSize: 1, MediaDir: prefix, Depth: depth, Width: o.Width})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := s.Key(sha, "mp4"), hs.Path(sha, "mp4"); got != want {
					t.Errorf("prefix %q depth %d width %d: Key = %q, hashstore.Path = %q", prefix, depth, width, got, want)
				}
				rel := hs.URLPath(hs.Path(sha, "mp4"))
				if got, want := s.PublicURL(sha, "mp4"), "https://media.example.com/"+rel; got != want {
					t.Errorf("PublicURL = %q, want %q", got, want)
				}
				if h, e := s.parseKey(rel); h != sha || e != "mp4" {
					t.Errorf("parseKey(%q) = %q, %q", rel, h, e)
				}
			}
		}
	}
}

func TestParseKeyRefuses(t *testing.T) {
	s, err := New(validOptions())
	if err != nil {
		t.Fatal(err)
	}
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, rel := range []string{
		"01/23/" + sha + ".mp4x",
		"01/23/" + sha,
		"01/24/" + sha + ".mp4",
		"01/" + sha + ".mp4",
		"01/23/45/" + sha + ".mp4",
		"01/23/" + strings.ToUpper(sha) + ".mp4",
		"01/23/" + sha + "-320w.jpg", // thumbnails stay in the repository
		"01/23/" + sha[:63] + ".mp4",
		"",
	} {
		if h, e := s.parseKey(rel); h != "" || e != "" {
			t.Errorf("parseKey(%q) = %q, %q, want nothing", rel, h, e)
		}
	}
}
