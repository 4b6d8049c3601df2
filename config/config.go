// Package config holds spano's configuration: the YAML file's schema, its
// defaults, loading with ${VAR} expansion, and validation whose every
// message names the offending key (for example
// `repo.push: must be sync, async or off, got "sometimes"`).
//
// A Config is a plain value. cmd/spano loads it once and hands each
// component the part it needs; library packages never read the file or the
// environment themselves.
package config

import (
	"fmt"
	"net"
	"spano/hashstore"
	"strings"
	"time"
)

// Config is the whole configuration file. The yaml tags are the key names
// of SPEC.md's "Config keys"; Parse rejects any other key.
type Config struct {
	Listen       string `yaml:"listen"`
	BaseURL      string `yaml:"base_url"`      // this service's public URL, no trailing slash
	EndpointPath string `yaml:"endpoint_path"` // where the Micropub media endpoint is routed
	DataDir      string `yaml:"data_dir"`

	Site       SiteConfig       `yaml:"site"`
	Repo       RepoConfig       `yaml:"repo"`
	Media      MediaConfig      `yaml:"media"`
	Thumbnails ThumbnailsConfig `yaml:"thumbnails"`
	Auth       AuthConfig       `yaml:"auth"`
	CORS       CORSConfig       `yaml:"cors"`
	Storage    StorageConfig    `yaml:"storage"`
	Video      VideoConfig      `yaml:"video"`
	UI         UIConfig         `yaml:"ui"`
	Limits     LimitsConfig     `yaml:"limits"`
	Hooks      []HookConfig     `yaml:"hooks"`
	Log        LogConfig        `yaml:"log"`
}

// SiteConfig describes the static site the media is published with.
type SiteConfig struct {
	URL       string `yaml:"url"`       // where the site is published, no trailing slash
	Generator string `yaml:"generator"` // GeneratorJekyll or GeneratorHugo; picks the default media.dir and data_dir
	// DataDir is the site's data folder; records go to DataDir/spano/….
	DataDir     string   `yaml:"data_dir"`
	Records     bool     `yaml:"records"`      // write a record per upload
	CheckLive   bool     `yaml:"check_live"`   // poll each pushed URL until the site serves it
	LiveTimeout Duration `yaml:"live_timeout"` // stop polling after this
}

// Site generators known to spano. They differ only in where media lives in
// the repository by default.
const (
	GeneratorJekyll = "jekyll"
	GeneratorHugo   = "hugo"
)

// RepoConfig is the site repository spano commits to and how it pushes.
type RepoConfig struct {
	Path          string   `yaml:"path"`   // spano's own bare clone
	Remote        string   `yaml:"remote"` // empty: nothing is pushed
	Branch        string   `yaml:"branch"`
	Push          PushMode `yaml:"push"`
	PushDelay     Duration `yaml:"push_delay"` // async: quiet time before a push, so a gallery is one push
	Username      string   `yaml:"username"`
	Password      string   `yaml:"password"`
	SSHKey        string   `yaml:"ssh_key"`
	SSHKnownHosts string   `yaml:"ssh_known_hosts"`
	AuthorName    string   `yaml:"author_name"`
	AuthorEmail   string   `yaml:"author_email"`
	MaxFileSize   Size     `yaml:"max_file_size"` // never commit a file this big: offload it, or refuse it
	WarnSize      Size     `yaml:"warn_size"`     // warn when the media in the repository passes this; 0: never
}

// PushMode says when commits reach the remote.
type PushMode string

// The push modes. An unquoted `off` (or `false`) in YAML is read as PushOff,
// since YAML 1.1 tools write it as a boolean.
const (
	PushSync  PushMode = "sync"  // push before answering the upload
	PushAsync PushMode = "async" // answer at once, push in the background
	PushOff   PushMode = "off"   // never push
)

// setYAML accepts the push mode as a string, and the boolean false that an
// unquoted `off` becomes in YAML 1.1 tools. The value itself is checked by
// Validate, so a Config built in code is checked the same way.
func (p *PushMode) setYAML(v any) error {
	switch v := v.(type) {
	case string:
		*p = PushMode(v)
		return nil
	case bool:
		if !v {
			*p = PushOff
			return nil
		}
	}
	return fmt.Errorf("must be sync, async or off, got %s", describe(v))
}

// MediaConfig says where uploads go in the repository and which are accepted.
type MediaConfig struct {
	Dir      string   `yaml:"dir"`      // folder in the repository, slash-separated
	URLPath  string   `yaml:"url_path"` // where the site serves Dir
	Depth    int      `yaml:"depth"`    // number of shard folders
	Width    int      `yaml:"width"`    // hex characters per shard folder
	MaxSize  Size     `yaml:"max_size"`
	Types    []string `yaml:"types"`
	StripGPS bool     `yaml:"strip_gps"`
	Serve    bool     `yaml:"serve"` // serve committed media at URLPath
}

// ThumbnailsConfig controls thumbnail generation and image safety limits.
type ThumbnailsConfig struct {
	Widths    []int    `yaml:"widths"`  // empty: no thumbnails
	Formats   []string `yaml:"formats"` // FormatSame, FormatWebP, FormatAVIF
	Quality   int      `yaml:"quality"`
	MaxPixels int64    `yaml:"max_pixels"`
}

// Thumbnail formats. Same is JPEG for opaque photos and PNG for images
// with alpha or lossless ones.
const (
	FormatSame = "same"
	FormatWebP = "webp"
	FormatAVIF = "avif"
)

// StorageConfig keeps big media outside git, in S3-compatible object
// storage.
type StorageConfig struct {
	S3      S3Config      `yaml:"s3"`
	Offload OffloadConfig `yaml:"offload"`
}

// S3Config is the bucket. An empty Endpoint means no object storage.
type S3Config struct {
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"` // object key: <prefix>/ab/cd/<64 hex>.<ext>
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	PublicURL string `yaml:"public_url"` // the public URL of <prefix>/
}

// Enabled reports whether object storage is configured.
func (s S3Config) Enabled() bool { return s.Endpoint != "" }

// OffloadConfig selects the files that go to the bucket: at least
// MinSize, or of one of Types ("video/*" wildcards allowed).
type OffloadConfig struct {
	MinSize Size     `yaml:"min_size"`
	Types   []string `yaml:"types"`
}

// VideoConfig is how videos are looked at.
type VideoConfig struct {
	FFmpeg string `yaml:"ffmpeg"` // for poster frames; "" = none
}

// LimitsConfig bounds what any client, identified or not, can make spano
// hold: connections, slow bodies, spools, disk, token checks. The defaults
// are far above what a real user meets (a phone sending a 50 MB video over
// a slow uplink succeeds).
type LimitsConfig struct {
	MaxConnections         int      `yaml:"max_connections"`
	ReadHeaderTimeout      Duration `yaml:"read_header_timeout"`
	IdleTimeout            Duration `yaml:"idle_timeout"`
	WriteTimeout           Duration `yaml:"write_timeout"`   // each write of a response, not a total
	MinBodyBytes           Size     `yaml:"min_body_bytes"`  // a body brings at least this …
	MinBodyWindow          Duration `yaml:"min_body_window"` // … in every window of this length
	MaxSpools              int      `yaml:"max_spools"`
	MaxUnidentifiedSpools  int      `yaml:"max_unidentified_spools"`
	MinFree                Size     `yaml:"min_free"` // under data_dir; below it, 507
	TrustedProxies         []string `yaml:"trusted_proxies"`
	TokenNegativeTTL       Duration `yaml:"token_negative_ttl"`
	TokenFailuresPerMinute int      `yaml:"token_failures_per_minute"`
	TokenEndpointRate      int      `yaml:"token_endpoint_rate"` // calls per second
	TokenEndpointBurst     int      `yaml:"token_endpoint_burst"`
}

// UIConfig is the owner's media library page.
type UIConfig struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"`
}

// AuthConfig says how tokens are verified.
type AuthConfig struct {
	Me                    string        `yaml:"me"`
	TokenEndpoint         string        `yaml:"token_endpoint"`         // legacy: GET with the token
	IntrospectionEndpoint string        `yaml:"introspection_endpoint"` // IndieAuth: POST token=…
	IntrospectionBearer   string        `yaml:"introspection_bearer"`
	Discover              bool          `yaml:"discover"` // find endpoints from Me at start
	Scopes                []string      `yaml:"scopes"`   // any one suffices for upload
	DeleteScopes          []string      `yaml:"delete_scopes"`
	CacheTTL              Duration      `yaml:"cache_ttl"`
	Tokens                []StaticToken `yaml:"tokens"`
}

// StaticToken is a token accepted without asking an endpoint. Only its hash
// is configured, so the file never holds a usable secret; its me is Auth.Me.
type StaticToken struct {
	SHA256 string `yaml:"sha256"` // lowercase hex of sha256(token)
	Scope  string `yaml:"scope"`  // space-separated scopes
}

// CORSConfig lists the origins allowed to call the endpoint from a browser.
type CORSConfig struct {
	Origins []string `yaml:"origins"` // "*" or scheme://host[:port]
}

// HookConfig is one user hook: a command or a webhook run on events.
type HookConfig struct {
	Name    string   `yaml:"name"`
	Events  []string `yaml:"events"`
	Command []string `yaml:"command"` // argv, run without a shell
	URL     string   `yaml:"url"`
	Secret  string   `yaml:"secret"` // webhooks: HMAC-SHA256 key for X-Spano-Signature-256
	Timeout Duration `yaml:"timeout"`
}

// LogConfig sets the operators' log output.
type LogConfig struct {
	Format string `yaml:"format"` // "text" or "json"
	Level  string `yaml:"level"`  // "debug", "info", "warn" or "error"
}

// SupportedTypes lists every media type spano can sniff, store and name
// (hashstore's list). media.types must be a subset; it is also the
// default.
func SupportedTypes() []string { return hashstore.SupportedTypes() }

// Default returns the defaults of SPEC.md's listing. It does not validate:
// base_url, site.url and auth.me have no sensible default and must be set.
func Default() Config {
	const dataDir = "./spano-data"
	return Config{
		Listen:       "127.0.0.1:8080",
		EndpointPath: "/micropub/media",
		DataDir:      dataDir,
		Site: SiteConfig{
			Generator:   GeneratorJekyll,
			DataDir:     DefaultDataDir(GeneratorJekyll),
			Records:     true,
			CheckLive:   true,
			LiveTimeout: Duration(30 * time.Minute),
		},
		Repo: RepoConfig{
			Path:        defaultRepoPath(dataDir),
			Branch:      "main",
			Push:        PushSync,
			AuthorName:  "spano",
			AuthorEmail: "spano@localhost",
			MaxFileSize: 100 * MB,
			WarnSize:    800 * MB,
		},
		Media: MediaConfig{
			Dir:      defaultMediaDir(GeneratorJekyll),
			URLPath:  "/media",
			Depth:    2,
			Width:    2,
			MaxSize:  50 * MB,
			Types:    SupportedTypes(),
			StripGPS: true,
		},
		Thumbnails: ThumbnailsConfig{
			Widths:    []int{320, 640, 1280},
			Formats:   []string{FormatSame},
			Quality:   82,
			MaxPixels: 50_000_000,
		},
		Auth: AuthConfig{
			Discover:     true,
			Scopes:       []string{"media", "create"},
			DeleteScopes: []string{"delete"},
			CacheTTL:     Duration(2 * time.Minute),
		},
		CORS: CORSConfig{Origins: []string{"*"}},
		Storage: StorageConfig{
			S3:      S3Config{Region: "auto", Prefix: "media"},
			Offload: OffloadConfig{MinSize: 20 * MB, Types: []string{"video/*"}},
		},
		Video: VideoConfig{FFmpeg: "ffmpeg"},
		UI:    UIConfig{Enabled: true, Path: "/"},
		Limits: LimitsConfig{
			MaxConnections: 4096, ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout: Duration(2 * time.Minute), WriteTimeout: Duration(time.Minute),
			MinBodyBytes: 4 * KiB, MinBodyWindow: Duration(30 * time.Second),
			MaxSpools: 64, MaxUnidentifiedSpools: 16, MinFree: 1 * GB,
			TrustedProxies:   []string{},
			TokenNegativeTTL: Duration(30 * time.Second), TokenFailuresPerMinute: 20,
			TokenEndpointRate: 10, TokenEndpointBurst: 50,
		},
		Hooks: []HookConfig{},
		Log:   LogConfig{Format: "text", Level: "info"},
	}
}

// Embedded returns the configuration used when there is no config file
// (SPEC "Running"): a local repository that never pushes, media served by
// spano itself, and site.url, base_url and auth.me pointing at listen.
//
// It has no way to verify tokens yet, so it does not validate until the
// caller adds the generated static token to Auth.Tokens.
//
// A listen address without a usable host (":8080", "0.0.0.0:8080") gives
// URLs on the loopback address, which is where a local client reaches it.
func Embedded(listen string) Config {
	c := Default()
	c.Listen = listen
	c.Repo.Path = defaultRepoPath(c.DataDir)
	c.Repo.Remote = ""
	c.Repo.Push = PushOff
	c.Media.Serve = true
	url := "http://" + reachableHost(listen)
	c.Site.URL = url
	c.BaseURL = url
	c.Auth.Me = url + "/"
	c.Auth.Discover = false
	c.Auth.Tokens = nil
	return c
}

// SetListen applies the -listen flag. It changes only the listen address:
// in embedded mode cmd rebuilds the config with Embedded instead, so the
// URLs follow.
func (c *Config) SetListen(addr string) {
	c.Listen = addr
}

// defaultRepoPath keeps the repository inside data_dir unless repo.path says
// otherwise, so moving data_dir moves everything.
func defaultRepoPath(dataDir string) string {
	if dataDir == "" {
		return "site.git"
	}
	return strings.TrimRight(dataDir, "/") + "/site.git"
}

// DefaultDataDir is where each generator reads data files from: the
// default of site.data_dir.
func DefaultDataDir(generator string) string {
	if generator == GeneratorHugo {
		return "data"
	}
	return "_data"
}

// defaultMediaDir is where each generator copies static files from.
func defaultMediaDir(generator string) string {
	if generator == GeneratorHugo {
		return "static/media"
	}
	return "media"
}

// reachableHost turns a listen address into one a local client can dial.
func reachableHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
