package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"spano/config"
	"spano/ui"
)

// embeddedInfo is what the embedded default tells its user at start.
type embeddedInfo struct {
	tokenFile string
	created   bool
}

// embeddedConfig is the configuration without a config file (SPEC.md
// "Running"): data in ./spano-data, a local repository, media served by
// spano, and a token kept in data_dir/token and accepted as a static token.
func embeddedConfig(addr string) (config.Config, *embeddedInfo, error) {
	cfg := config.Embedded(addr)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return cfg, nil, fmt.Errorf("data dir: %w", err)
	}
	info := &embeddedInfo{tokenFile: filepath.Join(cfg.DataDir, "token")}
	token, created, err := loadOrCreateToken(info.tokenFile)
	if err != nil {
		return cfg, nil, err
	}
	info.created = created
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.StaticToken{SHA256: tokenDigest(token), Scope: embeddedScope})
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("embedded config: %w", err)
	}
	return cfg, info, nil
}

// announce logs where the embedded default keeps its data and prints a
// curl command to try it. The command reads the token file: the token
// itself is never written anywhere but that file.
func (e *embeddedInfo) announce(log *slog.Logger, stdout io.Writer, cfg config.Config) {
	tokenFile := shellPath(e.tokenFile)
	endpoint := strings.TrimRight(cfg.BaseURL, "/") + cfg.EndpointPath
	curl := fmt.Sprintf(`curl -H "Authorization: Bearer $(cat %s)" -F file=@photo.jpg %s`, tokenFile, endpoint)

	if st, err := os.Stat(e.tokenFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("token file is readable by other users; chmod 600 it", "file", e.tokenFile, "mode", st.Mode().Perm().String())
	}
	tokenState := "reused"
	if e.created {
		tokenState = "created"
	}
	log.Info("no config file: running the embedded default",
		"data_dir", cfg.DataDir, "repo", cfg.Repo.Path, "branch", cfg.Repo.Branch,
		"push", "off (no remote)", "token_file", tokenFile, "token", tokenState,
		"media_url", siteMediaURL(cfg))
	log.Info("try it: " + curl)
	page := ""
	if cfg.UI.Enabled {
		page = strings.TrimRight(cfg.BaseURL, "/") + ui.Dir(cfg.UI.Path)
		log.Info("media library page: open " + page + " and sign in with the token in " + tokenFile)
	}

	fmt.Fprintf(stdout, `spano is running with the embedded default configuration (no config file).
  data:       %s
  repository: %s (branch %s, no remote, nothing is pushed)
  token:      %s (%s; accepted for %q)
  media:      served at %s/...
  library:    %s (sign in with the token in %s)

Upload a file:

  %s

`, cfg.DataDir, cfg.Repo.Path, cfg.Repo.Branch, tokenFile, tokenState, embeddedScope,
		siteMediaURL(cfg), dash(page), tokenFile, curl)
}

// shellPath writes path so that it can be pasted into a POSIX shell: with
// a leading ./ when relative (as people expect to see it) and single-quoted
// when it holds anything a shell would interpret.
func shellPath(p string) string {
	if !filepath.IsAbs(p) && !strings.HasPrefix(p, ".") {
		p = "./" + p
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+", c)) {
			return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return p
}
