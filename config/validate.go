package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"spano/hooks"
	"strings"
)

// Validate checks every key and returns all problems found, each a
// *FieldError naming its key, joined with errors.Join; nil if there are
// none. It only reads c: Parse has already filled derived defaults.
func (c *Config) Validate() error {
	var p problems
	checkListen(&p, "listen", c.Listen)
	checkBaseURL(&p, "base_url", c.BaseURL)
	checkURLPath(&p, "endpoint_path", c.EndpointPath)
	if c.DataDir == "" {
		p.add("data_dir", "must be set")
	}
	checkBaseURL(&p, "site.url", c.Site.URL)
	if c.Site.Generator != GeneratorJekyll && c.Site.Generator != GeneratorHugo {
		p.add("site.generator", "must be jekyll or hugo, got %q", c.Site.Generator)
	}
	c.Repo.validate(&p)
	c.Media.validate(&p, c.EndpointPath)
	c.Thumbnails.validate(&p)
	c.Auth.validate(&p)
	for i, o := range c.CORS.Origins {
		checkOrigin(&p, fmt.Sprintf("cors.origins[%d]", i), o)
	}
	c.Site.validate(&p)
	c.Storage.validate(&p, c.Site.Records)
	checkPath(&p, "video.ffmpeg", c.Video.FFmpeg)
	c.UI.validate(&p, c.EndpointPath, c.Media)
	c.Limits.validate(&p)
	validateHooks(&p, c.Hooks)
	c.Log.validate(&p)
	return errors.Join(p...)
}

// problems collects FieldErrors so that one run reports every bad key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Err: fmt.Errorf(format, args...)})
}

func (r *RepoConfig) validate(p *problems) {
	if r.Path == "" {
		p.add("repo.path", "must be set")
	}
	checkRemote(p, "repo.remote", r.Remote)
	if err := checkBranch(r.Branch); err != nil {
		p.add("repo.branch", "%v", err)
	}
	switch r.Push {
	case PushSync, PushAsync, PushOff:
	default:
		p.add("repo.push", "must be sync, async or off, got %q", string(r.Push))
	}
	if r.PushDelay < 0 {
		p.add("repo.push_delay", "must not be negative, got %s", r.PushDelay)
	}
	if r.WarnSize < 0 {
		p.add("repo.warn_size", "must not be negative, got %s", r.WarnSize)
	}
	if r.MaxFileSize <= 0 {
		p.add("repo.max_file_size", "must be more than 0, got %s", r.MaxFileSize)
	}
	if r.SSHKey != "" && r.SSHKnownHosts == "" {
		p.add("repo.ssh_known_hosts", "must be set with repo.ssh_key, so the server's key is checked")
	}
	checkIdent(p, "repo.author_name", r.AuthorName)
	checkIdent(p, "repo.author_email", r.AuthorEmail)
}

func (m *MediaConfig) validate(p *problems, endpointPath string) {
	checkRepoDir(p, "media.dir", m.Dir)
	checkURLPath(p, "media.url_path", m.URLPath)
	if m.Serve && (m.URLPath == endpointPath || m.URLPath == "/") {
		p.add("media.url_path", "must not be %q while media.serve is true: it would hide the endpoint", m.URLPath)
	}
	if m.Depth < 0 || m.Depth > 4 {
		p.add("media.depth", "must be 0 to 4, got %d", m.Depth)
	}
	if m.Width < 1 || m.Width > 8 {
		p.add("media.width", "must be 1 to 8, got %d", m.Width)
	}
	if m.Depth*m.Width > 64 {
		p.add("media.depth", "depth × width must be at most 64 (the hash's length), got %d", m.Depth*m.Width)
	}
	if m.MaxSize <= 0 {
		p.add("media.max_size", "must be more than 0, got %s", m.MaxSize)
	}
	if len(m.Types) == 0 {
		p.add("media.types", "must list at least one type")
	}
	supported := SupportedTypes()
	for i, t := range m.Types {
		key := fmt.Sprintf("media.types[%d]", i)
		switch {
		case !slices.Contains(supported, t):
			p.add(key, "unsupported type %q (supported: %s)", t, strings.Join(supported, ", "))
		case slices.Index(m.Types, t) < i:
			p.add(key, "duplicate %q", t)
		}
	}
}

func (t *ThumbnailsConfig) validate(p *problems) {
	for i, w := range t.Widths {
		key := fmt.Sprintf("thumbnails.widths[%d]", i)
		switch {
		case w <= 0:
			p.add(key, "must be more than 0, got %d", w)
		case slices.Index(t.Widths, w) < i:
			p.add(key, "duplicate %d", w)
		}
	}
	if t.Quality < 1 || t.Quality > 100 {
		p.add("thumbnails.quality", "must be 1 to 100, got %d", t.Quality)
	}
	if t.MaxPixels <= 0 {
		p.add("thumbnails.max_pixels", "must be more than 0, got %d", t.MaxPixels)
	}
	formats := []string{FormatSame, FormatWebP, FormatAVIF}
	for i, f := range t.Formats {
		key := fmt.Sprintf("thumbnails.formats[%d]", i)
		switch {
		case !slices.Contains(formats, f):
			p.add(key, "must be one of %s, got %q", strings.Join(formats, ", "), f)
		case slices.Index(t.Formats, f) < i:
			p.add(key, "duplicate %q", f)
		}
	}
	if len(t.Widths) > 0 && len(t.Formats) == 0 {
		p.add("thumbnails.formats", "must list at least one format while thumbnails.widths is set (same is the usual)")
	}
}

func (s *SiteConfig) validate(p *problems) {
	checkRepoDir(p, "site.data_dir", s.DataDir)
	if s.LiveTimeout < 0 {
		p.add("site.live_timeout", "must not be negative, got %s", s.LiveTimeout)
	}
	if s.CheckLive && s.LiveTimeout == 0 {
		p.add("site.live_timeout", "must be more than 0 while site.check_live is true")
	}
}

func (s *StorageConfig) validate(p *problems, records bool) {
	c := s.S3
	if s.Offload.MinSize < 0 {
		p.add("storage.offload.min_size", "must not be negative, got %s", s.Offload.MinSize)
	}
	for i, t := range s.Offload.Types {
		key := fmt.Sprintf("storage.offload.types[%d]", i)
		major, minor, ok := strings.Cut(t, "/")
		if !ok || major == "" || minor == "" || strings.ContainsAny(t, " ,;") || (strings.Contains(minor, "*") && minor != "*") || major == "*" {
			p.add(key, "must be a media type such as video/mp4 or video/*, got %q", t)
		}
	}
	if !c.Enabled() {
		return
	}
	checkEndpoint(p, "storage.s3.endpoint", c.Endpoint)
	if c.Bucket == "" {
		p.add("storage.s3.bucket", "must be set with storage.s3.endpoint")
	}
	if c.PublicURL == "" {
		p.add("storage.s3.public_url", "must be set with storage.s3.endpoint: it is where offloaded files are published")
	} else {
		checkBaseURL(p, "storage.s3.public_url", c.PublicURL)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		p.add("storage.s3.access_key", "must be set, with storage.s3.secret_key, when storage.s3.endpoint is")
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.Contains(c.Prefix, "..") || strings.HasSuffix(c.Prefix, "/") {
		p.add("storage.s3.prefix", "must be a relative key prefix without a leading or trailing slash, got %q", c.Prefix)
	}
	if !records {
		p.add("site.records", "must be true with storage.s3.endpoint: an offloaded file is in the repository only as its record")
	}
}

func (u *UIConfig) validate(p *problems, endpointPath string, media MediaConfig) {
	if !u.Enabled {
		return
	}
	checkURLPath(p, "ui.path", u.Path)
	if u.Path == endpointPath {
		p.add("ui.path", "must not be endpoint_path (%q)", endpointPath)
	}
	if media.Serve && u.Path != "/" && (u.Path == media.URLPath || strings.HasPrefix(u.Path, strings.TrimRight(media.URLPath, "/")+"/")) {
		p.add("ui.path", "must not be under media.url_path (%q) while media.serve is true", media.URLPath)
	}
}

func (l *LimitsConfig) validate(p *problems) {
	positive := func(key string, ok bool) {
		if !ok {
			p.add("limits."+key, "must be more than 0")
		}
	}
	positive("max_connections", l.MaxConnections > 0)
	positive("read_header_timeout", l.ReadHeaderTimeout > 0)
	positive("idle_timeout", l.IdleTimeout > 0)
	positive("write_timeout", l.WriteTimeout > 0)
	positive("min_body_bytes", l.MinBodyBytes > 0)
	positive("min_body_window", l.MinBodyWindow > 0)
	positive("max_spools", l.MaxSpools > 0)
	positive("max_unidentified_spools", l.MaxUnidentifiedSpools > 0)
	positive("token_endpoint_rate", l.TokenEndpointRate > 0)
	positive("token_endpoint_burst", l.TokenEndpointBurst > 0)
	positive("token_failures_per_minute", l.TokenFailuresPerMinute > 0)
	if l.MinFree < 0 {
		p.add("limits.min_free", "must not be negative, got %s", l.MinFree)
	}
	if l.TokenNegativeTTL < 0 {
		p.add("limits.token_negative_ttl", "must not be negative, got %s", l.TokenNegativeTTL)
	}
	for i, c := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, err := netip.ParseAddr(c); err != nil {
				p.add(fmt.Sprintf("limits.trusted_proxies[%d]", i), "must be an address or a CIDR prefix such as 10.0.0.0/8, got %q", c)
			}
		}
	}
}

// TrustedProxies parses limits.trusted_proxies (checked by Validate): a
// lone address is a prefix of its full length.
func (l LimitsConfig) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, c := range l.TrustedProxies {
		if pr, err := netip.ParsePrefix(c); err == nil {
			out = append(out, pr.Masked())
		} else if a, err := netip.ParseAddr(c); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// checkPath accepts a program name or path without control characters.
func checkPath(p *problems, key, s string) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.add(key, "must not hold control characters")
	}
}

func (a *AuthConfig) validate(p *problems) {
	if u := checkHTTPURL(p, "auth.me", a.Me); u != nil && u.Fragment != "" {
		p.add("auth.me", "must not have a fragment, got %q", a.Me)
	}
	if a.TokenEndpoint != "" {
		checkEndpoint(p, "auth.token_endpoint", a.TokenEndpoint)
	}
	if a.IntrospectionEndpoint != "" {
		checkEndpoint(p, "auth.introspection_endpoint", a.IntrospectionEndpoint)
	}
	if len(a.Scopes) == 0 {
		p.add("auth.scopes", "must list at least one scope, or no upload is allowed")
	}
	checkScopes(p, "auth.scopes", a.Scopes)
	checkScopes(p, "auth.delete_scopes", a.DeleteScopes)
	if a.CacheTTL < 0 {
		p.add("auth.cache_ttl", "must not be negative, got %s", a.CacheTTL)
	}
	for i, t := range a.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		if !isHex64(t.SHA256) {
			p.add(key+".sha256", "must be 64 hex characters (sha256 of the token), got %d characters", len(t.SHA256))
		} else if slices.IndexFunc(a.Tokens[:i], func(o StaticToken) bool { return strings.EqualFold(o.SHA256, t.SHA256) }) >= 0 {
			p.add(key+".sha256", "duplicate token")
		}
		if strings.TrimSpace(t.Scope) == "" {
			p.add(key+".scope", "must list at least one scope")
		}
	}
	if a.TokenEndpoint == "" && a.IntrospectionEndpoint == "" && !a.Discover && len(a.Tokens) == 0 {
		p.add("auth", "no way to verify tokens: set token_endpoint, introspection_endpoint, discover: true or tokens")
	}
}

func validateHooks(p *problems, list []HookConfig) {
	for i, h := range list {
		key := fmt.Sprintf("hooks[%d]", i)
		if strings.TrimSpace(h.Name) == "" {
			p.add(key+".name", "must be set")
		} else if j := slices.IndexFunc(list[:i], func(o HookConfig) bool { return o.Name == h.Name }); j >= 0 {
			p.add(key+".name", "duplicate %q (also hooks[%d])", h.Name, j)
		}
		if len(h.Events) == 0 {
			p.add(key+".events", "must list at least one of %s", strings.Join(hooks.Events(), ", "))
		}
		for j, e := range h.Events {
			ekey := fmt.Sprintf("%s.events[%d]", key, j)
			switch {
			case !slices.Contains(hooks.Events(), e):
				p.add(ekey, "unknown event %q (events: %s)", e, strings.Join(hooks.Events(), ", "))
			case slices.Index(h.Events, e) < j:
				p.add(ekey, "duplicate %q", e)
			}
		}
		switch {
		case len(h.Command) > 0 && h.URL != "":
			p.add(key, "set command or url, not both")
		case len(h.Command) == 0 && h.URL == "":
			p.add(key, "must set command (an argv list) or url")
		case len(h.Command) > 0:
			if h.Command[0] == "" {
				p.add(key+".command[0]", "must name the program")
			}
			if h.Secret != "" {
				p.add(key+".secret", "only signs webhooks: set url, or drop secret")
			}
		default:
			checkHTTPURL(p, key+".url", h.URL)
		}
		if h.Timeout <= 0 {
			p.add(key+".timeout", "must be more than 0, got %s", h.Timeout)
		}
	}
}

func (l *LogConfig) validate(p *problems) {
	if l.Format != "text" && l.Format != "json" {
		p.add("log.format", "must be text or json, got %q", l.Format)
	}
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error, got %q", l.Level)
	}
}
