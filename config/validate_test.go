package config

import (
	"spano/hooks"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// valid is a Config that passes Validate, with a hook of each kind and a
// static token so their checks have something to find.
func valid() Config {
	c := Default()
	c.BaseURL = "https://media.example.com"
	c.Site.URL = "https://example.com"
	c.Auth.Me = "https://example.com/"
	c.Auth.Tokens = []StaticToken{{SHA256: strings.Repeat("ab", 32), Scope: "media"}}
	c.Hooks = []HookConfig{
		{Name: "scan", Events: []string{hooks.EventUpload}, Command: []string{"clamdscan", "-"}, Timeout: Duration(hooks.DefaultUploadTimeout)},
		{Name: "rebuild", Events: []string{hooks.EventPushed}, URL: "https://ci.example.com/hook", Secret: "s", Timeout: Duration(hooks.DefaultEventTimeout)},
	}
	return c
}

func TestValidDefaultsPass(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		change   func(c *Config)
		wantKeys []string // nil: valid
		wantMsg  string   // substring of the error
	}{
		// listen
		{"listen no port", func(c *Config) { c.Listen = "8080" }, []string{"listen"}, `must be host:port, like "127.0.0.1:8080", got "8080"`},
		{"listen named port", func(c *Config) { c.Listen = "localhost:http" }, []string{"listen"}, "port must be a number"},
		{"listen port range", func(c *Config) { c.Listen = "1.2.3.4:70000" }, []string{"listen"}, `got "70000"`},
		{"listen any host", func(c *Config) { c.Listen = ":8080" }, nil, ""},
		{"listen ipv6", func(c *Config) { c.Listen = "[::1]:0" }, nil, ""},

		// base_url, site.url
		{"base_url empty", func(c *Config) { c.BaseURL = "" }, []string{"base_url"}, "must be set"},
		{"base_url no scheme", func(c *Config) { c.BaseURL = "media.example.com" }, []string{"base_url"}, `absolute http(s) URL, got "media.example.com"`},
		{"base_url ftp", func(c *Config) { c.BaseURL = "ftp://media.example.com" }, []string{"base_url"}, "absolute http(s) URL"},
		{"base_url no host", func(c *Config) { c.BaseURL = "https:///x" }, []string{"base_url"}, "absolute http(s) URL"},
		{"base_url query", func(c *Config) { c.BaseURL = "https://media.example.com/?a=b" }, []string{"base_url"}, "without user, query or fragment"},
		{"base_url user", func(c *Config) { c.BaseURL = "https://u:p@media.example.com" }, []string{"base_url"}, "without user"},
		{"site.url relative", func(c *Config) { c.Site.URL = "/blog" }, []string{"site.url"}, `got "/blog"`},
		{"site.url with path", func(c *Config) { c.Site.URL = "http://example.com/blog" }, nil, ""},
		{"site.generator", func(c *Config) { c.Site.Generator = "eleventy" }, []string{"site.generator"}, `must be jekyll or hugo, got "eleventy"`},
		{"site.generator empty", func(c *Config) { c.Site.Generator = "" }, []string{"site.generator"}, `got ""`},
		{"hugo", func(c *Config) { c.Site.Generator = GeneratorHugo }, nil, ""},

		// paths
		{"endpoint_path relative", func(c *Config) { c.EndpointPath = "micropub" }, []string{"endpoint_path"}, `must start with "/", got "micropub"`},
		{"endpoint_path trailing slash", func(c *Config) { c.EndpointPath = "/micropub/" }, []string{"endpoint_path"}, "clean path"},
		{"endpoint_path dotdot", func(c *Config) { c.EndpointPath = "/a/../micropub" }, []string{"endpoint_path"}, "clean path"},
		{"endpoint_path query", func(c *Config) { c.EndpointPath = "/micropub?x" }, []string{"endpoint_path"}, "query"},
		{"endpoint_path root", func(c *Config) { c.EndpointPath = "/"; c.UI.Enabled = false }, nil, ""},
		{"endpoint_path root hides the page", func(c *Config) { c.EndpointPath = "/" }, []string{"ui.path"}, "must not be endpoint_path"},

		// site, storage, ui, video
		{"site.data_dir escapes", func(c *Config) { c.Site.DataDir = "../x" }, []string{"site.data_dir"}, ""},
		{"site.live_timeout zero", func(c *Config) { c.Site.LiveTimeout = 0 }, []string{"site.live_timeout"}, "more than 0"},
		{"thumbnails.formats unknown", func(c *Config) { c.Thumbnails.Formats = []string{"same", "jxl"} }, []string{"thumbnails.formats[1]"}, "must be one of"},
		{"thumbnails.formats duplicate", func(c *Config) { c.Thumbnails.Formats = []string{"webp", "webp"} }, []string{"thumbnails.formats[1]"}, "duplicate"},
		{"repo.max_file_size zero", func(c *Config) { c.Repo.MaxFileSize = 0 }, []string{"repo.max_file_size"}, "more than 0"},
		{"offload type bad", func(c *Config) { c.Storage.Offload.Types = []string{"video/*", "*/*", "video"} }, []string{"storage.offload.types[1]", "storage.offload.types[2]"}, "media type"},
		{"s3 without bucket", func(c *Config) {
			c.Storage.S3 = S3Config{Endpoint: "https://acc.r2.cloudflarestorage.com", Region: "auto", Prefix: "media", AccessKey: "k", SecretKey: "s", PublicURL: "https://cdn.example.com/media"}
		}, []string{"storage.s3.bucket"}, "must be set"},
		{"s3 needs records", func(c *Config) {
			c.Storage.S3 = S3Config{Endpoint: "https://acc.r2.cloudflarestorage.com", Bucket: "b", Prefix: "media", AccessKey: "k", SecretKey: "s", PublicURL: "https://cdn.example.com/media"}
			c.Site.Records = false
		}, []string{"site.records"}, "must be true"},
		{"s3 http off loopback", func(c *Config) {
			c.Storage.S3 = S3Config{Endpoint: "http://s3.example.com", Bucket: "b", AccessKey: "k", SecretKey: "s", PublicURL: "https://cdn.example.com/media"}
		}, []string{"storage.s3.endpoint"}, ""},
		{"ui.path under served media", func(c *Config) { c.Media.Serve = true; c.UI.Path = "/media/ui" }, []string{"ui.path"}, "media.url_path"},
		{"data_dir empty", func(c *Config) { c.DataDir = "" }, []string{"data_dir"}, "must be set"},

		// repo
		{"repo.path empty", func(c *Config) { c.Repo.Path = "" }, []string{"repo.path"}, "must be set"},
		{"remote option injection", func(c *Config) { c.Repo.Remote = "-oProxyCommand=x" }, []string{"repo.remote"}, "must be a URL"},
		{"remote space", func(c *Config) { c.Repo.Remote = "https://x/a b.git" }, []string{"repo.remote"}, "must be a URL"},
		{"remote scheme", func(c *Config) { c.Repo.Remote = "gopher://x/site" }, []string{"repo.remote"}, `unsupported scheme "gopher"`},
		{"remote scp-like", func(c *Config) { c.Repo.Remote = "git@github.com:alice/site.git" }, nil, ""},
		{"remote path", func(c *Config) { c.Repo.Remote = "/srv/git/site.git" }, nil, ""},
		{"remote file", func(c *Config) { c.Repo.Remote = "file:///srv/git/site.git" }, nil, ""},
		{"remote ssh", func(c *Config) { c.Repo.Remote = "ssh://git@host:22/site.git" }, nil, ""},
		{"branch empty", func(c *Config) { c.Repo.Branch = "" }, []string{"repo.branch"}, "must be set"},
		{"branch dotdot", func(c *Config) { c.Repo.Branch = "a..b" }, []string{"repo.branch"}, `invalid branch name "a..b"`},
		{"branch dash", func(c *Config) { c.Repo.Branch = "-f" }, []string{"repo.branch"}, "starts with -"},
		{"branch space", func(c *Config) { c.Repo.Branch = "my branch" }, []string{"repo.branch"}, "contains ' '"},
		{"branch tilde", func(c *Config) { c.Repo.Branch = "main~1" }, []string{"repo.branch"}, "contains '~'"},
		{"branch lock", func(c *Config) { c.Repo.Branch = "main.lock" }, []string{"repo.branch"}, ".lock"},
		{"branch hidden component", func(c *Config) { c.Repo.Branch = "a/.b" }, []string{"repo.branch"}, `starts with "."`},
		{"branch trailing slash", func(c *Config) { c.Repo.Branch = "a/" }, []string{"repo.branch"}, "empty path component"},
		{"branch reflog", func(c *Config) { c.Repo.Branch = "a@{1}" }, []string{"repo.branch"}, `"@{"`},
		{"branch HEAD", func(c *Config) { c.Repo.Branch = "HEAD" }, []string{"repo.branch"}, "reserved"},
		{"branch nested", func(c *Config) { c.Repo.Branch = "gh-pages/media" }, nil, ""},
		{"push", func(c *Config) { c.Repo.Push = "sometimes" }, []string{"repo.push"}, `repo.push: must be sync, async or off, got "sometimes"`},
		{"push_delay negative", func(c *Config) { c.Repo.PushDelay = Duration(-time.Second) }, []string{"repo.push_delay"}, "must not be negative, got -1s"},
		{"ssh_key without known_hosts", func(c *Config) { c.Repo.SSHKey = "/k" }, []string{"repo.ssh_known_hosts"}, "with repo.ssh_key"},
		{"ssh_key with known_hosts", func(c *Config) { c.Repo.SSHKey, c.Repo.SSHKnownHosts = "/k", "/kh" }, nil, ""},
		{"author_name empty", func(c *Config) { c.Repo.AuthorName = " " }, []string{"repo.author_name"}, "must be set"},
		{"author_email angle", func(c *Config) { c.Repo.AuthorEmail = "a>b" }, []string{"repo.author_email"}, "must not contain <, >"},

		// media
		{"media.dir empty", func(c *Config) { c.Media.Dir = "" }, []string{"media.dir"}, "must be set"},
		{"media.dir absolute", func(c *Config) { c.Media.Dir = "/media" }, []string{"media.dir"}, "relative"},
		{"media.dir backslash", func(c *Config) { c.Media.Dir = `static\media` }, []string{"media.dir"}, "relative"},
		{"media.dir escapes", func(c *Config) { c.Media.Dir = "../media" }, []string{"media.dir"}, "inside the repository"},
		{"media.dir root", func(c *Config) { c.Media.Dir = "." }, []string{"media.dir"}, "inside the repository"},
		{"media.dir dotdot inside", func(c *Config) { c.Media.Dir = "a/../media" }, []string{"media.dir"}, "clean path"},
		{"media.dir trailing slash", func(c *Config) { c.Media.Dir = "media/" }, []string{"media.dir"}, "clean path"},
		{"media.dir git", func(c *Config) { c.Media.Dir = "x/.Git/y" }, []string{"media.dir"}, ".git"},
		{"media.dir nested", func(c *Config) { c.Media.Dir = "static/media" }, nil, ""},
		{"url_path relative", func(c *Config) { c.Media.URLPath = "media" }, []string{"media.url_path"}, `must start with "/"`},
		{"url_path trailing slash", func(c *Config) { c.Media.URLPath = "/media/" }, []string{"media.url_path"}, "trailing slash"},
		{"url_path equals endpoint while serving", func(c *Config) { c.Media.Serve, c.Media.URLPath = true, c.EndpointPath }, []string{"media.url_path"}, "hide the endpoint"},
		{"url_path root while serving", func(c *Config) { c.Media.Serve, c.Media.URLPath = true, "/" }, []string{"media.url_path"}, "hide the endpoint"},
		{"url_path root not serving", func(c *Config) { c.Media.URLPath = "/" }, nil, ""},
		{"depth negative", func(c *Config) { c.Media.Depth = -1 }, []string{"media.depth"}, "must be 0 to 4, got -1"},
		{"depth 5", func(c *Config) { c.Media.Depth = 5 }, []string{"media.depth"}, "got 5"},
		{"depth 0", func(c *Config) { c.Media.Depth = 0 }, nil, ""},
		{"depth times width", func(c *Config) { c.Media.Depth, c.Media.Width = 9, 8 }, []string{"media.depth", "media.depth"}, "at most 64"},
		{"width 0", func(c *Config) { c.Media.Width = 0 }, []string{"media.width"}, "must be 1 to 8, got 0"},
		{"width 9", func(c *Config) { c.Media.Width = 9 }, []string{"media.width"}, "got 9"},
		{"depth 4 width 8", func(c *Config) { c.Media.Depth, c.Media.Width = 4, 8 }, nil, ""},
		{"max_size 0", func(c *Config) { c.Media.MaxSize = 0 }, []string{"media.max_size"}, "must be more than 0, got 0B"},
		{"max_size negative", func(c *Config) { c.Media.MaxSize = -KB }, []string{"media.max_size"}, "got -1KB"},
		{"types empty", func(c *Config) { c.Media.Types = nil }, []string{"media.types"}, "at least one"},
		{"types unsupported", func(c *Config) { c.Media.Types = []string{"image/png", "image/tiff"} }, []string{"media.types[1]"}, `unsupported type "image/tiff"`},
		{"types duplicate", func(c *Config) { c.Media.Types = []string{"image/png", "image/png"} }, []string{"media.types[1]"}, "duplicate"},
		{"types subset", func(c *Config) { c.Media.Types = []string{"audio/ogg"} }, nil, ""},

		// thumbnails
		{"widths zero", func(c *Config) { c.Thumbnails.Widths = []int{320, 0} }, []string{"thumbnails.widths[1]"}, "must be more than 0, got 0"},
		{"widths negative", func(c *Config) { c.Thumbnails.Widths = []int{-5} }, []string{"thumbnails.widths[0]"}, "got -5"},
		{"widths duplicate", func(c *Config) { c.Thumbnails.Widths = []int{320, 640, 320} }, []string{"thumbnails.widths[2]"}, "duplicate 320"},
		{"widths none", func(c *Config) { c.Thumbnails.Widths = []int{} }, nil, ""},
		{"quality 0", func(c *Config) { c.Thumbnails.Quality = 0 }, []string{"thumbnails.quality"}, "must be 1 to 100, got 0"},
		{"quality 101", func(c *Config) { c.Thumbnails.Quality = 101 }, []string{"thumbnails.quality"}, "got 101"},
		{"max_pixels 0", func(c *Config) { c.Thumbnails.MaxPixels = 0 }, []string{"thumbnails.max_pixels"}, "must be more than 0"},

		// auth
		{"me empty", func(c *Config) { c.Auth.Me = "" }, []string{"auth.me"}, "must be set"},
		{"me relative", func(c *Config) { c.Auth.Me = "example.com" }, []string{"auth.me"}, "absolute http(s) URL"},
		{"me fragment", func(c *Config) { c.Auth.Me = "https://example.com/#me" }, []string{"auth.me"}, "fragment"},
		{"token_endpoint http remote", func(c *Config) { c.Auth.TokenEndpoint = "http://tokens.example.com/token" }, []string{"auth.token_endpoint"}, "must use https (http only on loopback)"},
		{"token_endpoint http localhost lookalike", func(c *Config) { c.Auth.TokenEndpoint = "http://localhost.example.com/" }, []string{"auth.token_endpoint"}, "must use https"},
		{"token_endpoint relative", func(c *Config) { c.Auth.TokenEndpoint = "/token" }, []string{"auth.token_endpoint"}, "absolute"},
		{"token_endpoint https", func(c *Config) { c.Auth.TokenEndpoint = "https://tokens.example.com/token" }, nil, ""},
		{"token_endpoint http 127.0.0.1", func(c *Config) { c.Auth.TokenEndpoint = "http://127.0.0.1:9000/token" }, nil, ""},
		{"token_endpoint http 127/8", func(c *Config) { c.Auth.TokenEndpoint = "http://127.8.9.10/token" }, nil, ""},
		{"token_endpoint http ::1", func(c *Config) { c.Auth.TokenEndpoint = "http://[::1]:9000/token" }, nil, ""},
		{"token_endpoint http localhost", func(c *Config) { c.Auth.TokenEndpoint = "http://localhost:9000/token" }, nil, ""},
		{"introspection http remote", func(c *Config) { c.Auth.IntrospectionEndpoint = "http://10.0.0.1/introspect" }, []string{"auth.introspection_endpoint"}, "must use https"},
		{"introspection https", func(c *Config) { c.Auth.IntrospectionEndpoint = "https://auth.example.com/introspect" }, nil, ""},
		{"scopes empty", func(c *Config) { c.Auth.Scopes = []string{} }, []string{"auth.scopes"}, "at least one scope"},
		{"scopes with space", func(c *Config) { c.Auth.Scopes = []string{"media create"} }, []string{"auth.scopes[0]"}, `one scope word, got "media create"`},
		{"delete_scopes blank", func(c *Config) { c.Auth.DeleteScopes = []string{"delete", ""} }, []string{"auth.delete_scopes[1]"}, "one scope word"},
		{"delete_scopes none", func(c *Config) { c.Auth.DeleteScopes = nil }, nil, ""},
		{"cache_ttl negative", func(c *Config) { c.Auth.CacheTTL = Duration(-time.Minute) }, []string{"auth.cache_ttl"}, "must not be negative"},
		{"cache_ttl zero", func(c *Config) { c.Auth.CacheTTL = 0 }, nil, ""},
		{"token short", func(c *Config) { c.Auth.Tokens[0].SHA256 = "abc" }, []string{"auth.tokens[0].sha256"}, "64 hex characters (sha256 of the token), got 3"},
		{"token not hex", func(c *Config) { c.Auth.Tokens[0].SHA256 = strings.Repeat("zz", 32) }, []string{"auth.tokens[0].sha256"}, "64 hex"},
		{"token duplicate", func(c *Config) {
			c.Auth.Tokens = append(c.Auth.Tokens, StaticToken{SHA256: strings.ToUpper(c.Auth.Tokens[0].SHA256), Scope: "delete"})
		}, []string{"auth.tokens[1].sha256"}, "duplicate"},
		{"token scope empty", func(c *Config) { c.Auth.Tokens[0].Scope = " " }, []string{"auth.tokens[0].scope"}, "at least one scope"},
		{"no way to verify", func(c *Config) { c.Auth.Discover, c.Auth.Tokens = false, nil }, []string{"auth"}, "no way to verify tokens"},
		{"only a token endpoint", func(c *Config) {
			c.Auth.Discover, c.Auth.Tokens, c.Auth.TokenEndpoint = false, nil, "https://tokens.example.com/"
		}, nil, ""},

		// cors
		{"origin with path", func(c *Config) { c.CORS.Origins = []string{"https://quill.p3k.io/"} }, []string{"cors.origins[0]"}, `must be "*" or an origin`},
		{"origin bare host", func(c *Config) { c.CORS.Origins = []string{"*", "quill.p3k.io"} }, []string{"cors.origins[1]"}, `got "quill.p3k.io"`},
		{"origins list", func(c *Config) { c.CORS.Origins = []string{"https://quill.p3k.io", "http://localhost:3000"} }, nil, ""},
		{"origins none", func(c *Config) { c.CORS.Origins = nil }, nil, ""},

		// hooks
		{"hook name empty", func(c *Config) { c.Hooks[1].Name = "" }, []string{"hooks[1].name"}, "must be set"},
		{"hook name duplicate", func(c *Config) { c.Hooks[1].Name = "scan" }, []string{"hooks[1].name"}, `duplicate "scan" (also hooks[0])`},
		{"hook events empty", func(c *Config) { c.Hooks[0].Events = nil }, []string{"hooks[0].events"}, "at least one of upload, stored"},
		{"hook event unknown", func(c *Config) { c.Hooks[1].Events = []string{"pushed", "uploaded"} }, []string{"hooks[1].events[1]"}, `unknown event "uploaded"`},
		{"hook event duplicate", func(c *Config) { c.Hooks[1].Events = []string{"pushed", "pushed"} }, []string{"hooks[1].events[1]"}, "duplicate"},
		{"hook all events", func(c *Config) { c.Hooks[1].Events = hooks.Events() }, nil, ""},
		{"hook both", func(c *Config) { c.Hooks[0].URL = "https://x.example.com" }, []string{"hooks[0]"}, "not both"},
		{"hook neither", func(c *Config) { c.Hooks[1].URL = "" }, []string{"hooks[1]"}, "must set command (an argv list) or url"},
		{"hook empty argv", func(c *Config) { c.Hooks[0].Command = []string{} }, []string{"hooks[0]"}, "must set command"},
		{"hook empty program", func(c *Config) { c.Hooks[0].Command = []string{"", "-"} }, []string{"hooks[0].command[0]"}, "must name the program"},
		{"hook secret on command", func(c *Config) { c.Hooks[0].Secret = "s" }, []string{"hooks[0].secret"}, "only signs webhooks"},
		{"hook url relative", func(c *Config) { c.Hooks[1].URL = "ci.example.com/hook" }, []string{"hooks[1].url"}, "absolute http(s) URL"},
		{"hook url http", func(c *Config) { c.Hooks[1].URL = "http://ci.internal/hook" }, nil, ""},
		{"hook timeout zero", func(c *Config) { c.Hooks[1].Timeout = 0 }, []string{"hooks[1].timeout"}, "hooks[1].timeout: must be more than 0, got 0s"},

		// log
		{"log format", func(c *Config) { c.Log.Format = "yaml" }, []string{"log.format"}, `must be text or json, got "yaml"`},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, []string{"log.level"}, `must be debug, info, warn or error, got "trace"`},
		{"log json debug", func(c *Config) { c.Log = LogConfig{Format: "json", Level: "debug"} }, nil, ""},

		// several at once, in key order
		{"several", func(c *Config) {
			c.Listen, c.Media.Width, c.Log.Level = "x", 0, ""
		}, []string{"listen", "media.width", "log.level"}, "media.width: must be 1 to 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if diff := cmp.Diff(errorKeys(err), tt.wantKeys); diff != "" {
				t.Fatalf("keys (-got +want):\n%s\nerr: %v", diff, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
			// Each message starts with its key, so a reader knows where to look.
			for _, fe := range fieldErrors(err) {
				if !strings.HasPrefix(fe.Error(), fe.Key+": ") {
					t.Errorf("%q does not start with its key %q", fe.Error(), fe.Key)
				}
			}
		})
	}
}

func TestValidateSecretsNotEchoed(t *testing.T) {
	c := valid()
	c.Auth.Tokens[0].SHA256 = "hunter2-not-a-hash"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want an error that does not quote a misplaced token", err)
	}
}
