package indieauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

const (
	// pageLimit caps how much of the owner's home page is read for <link>s.
	pageLimit = 1 << 20
	// relMetadata and relToken are the rels discovery looks for, best first.
	relMetadata      = "indieauth-metadata"
	relToken         = "token_endpoint"
	relAuthorization = "authorization_endpoint"
)

// refreshLoop rediscovers the endpoints every `every` until ctx ends.
// After a failure it retries sooner, doubling the delay, so that a site
// that was down at start-up does not mean an hour of 503s.
func (v *Verifier) refreshLoop(ctx context.Context, every time.Duration, failing bool) {
	backoff := min(retryFirst, every)
	wait := every
	if failing {
		wait = backoff
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := v.refresh(ctx); err != nil {
			backoff = min(2*backoff, every)
			t.Reset(backoff)
			continue
		}
		backoff = min(retryFirst, every)
		t.Reset(every)
	}
}

// refresh runs discovery once and installs what it found. On failure the
// previous endpoints, if any, stay in use.
func (v *Verifier) refresh(ctx context.Context) error {
	found, err := v.discoverEndpoints(ctx)
	old := v.eps.Load()
	switch {
	case err != nil && old == nil:
		v.log.Error("endpoint discovery failed: tokens other than static ones get 503 until it succeeds",
			"me", v.me, "error", err)
		return err
	case err != nil:
		v.log.Warn("endpoint rediscovery failed: keeping the endpoints found before", "me", v.me, "error", err)
		return err
	case old == nil || *old != found:
		v.log.Info("endpoints discovered", "me", v.me,
			"introspection_endpoint", found.introspection, "token_endpoint", found.token)
	}
	v.eps.Store(&found)
	return nil
}

// discoverEndpoints finds the endpoints from auth.me, never from anything a
// request says: Link headers before HTML <link>s, indieauth-metadata before
// the older token_endpoint rel. Relative URLs resolve against the URL that
// answered, after redirects.
func (v *Verifier) discoverEndpoints(ctx context.Context) (endpoints, error) {
	ctx, cancel := context.WithTimeout(ctx, endpointTimeout)
	defer cancel()
	pick, base, err := fetchLinks(ctx, v.client, v.me)
	if err != nil {
		return endpoints{}, err
	}
	var metaErr error
	if meta := pick(relMetadata); meta != "" {
		found, err := v.fetchMetadata(ctx, meta)
		if err == nil {
			return found, nil
		}
		metaErr = err
	}
	if tok := pick(relToken); tok != "" {
		if err := checkEndpoint(tok); err != nil {
			return endpoints{}, errors.Join(metaErr, fmt.Errorf("discover token_endpoint: %w", err))
		}
		if metaErr != nil {
			v.log.Warn("indieauth metadata unusable: using the token_endpoint link", "error", metaErr)
		}
		return endpoints{token: tok}, nil
	}
	if metaErr != nil {
		return endpoints{}, metaErr
	}
	return endpoints{}, fmt.Errorf("discover: %s has no %s or %s link", base.Redacted(), relMetadata, relToken)
}

// fetchLinks GETs the owner's page and returns a lookup of the first URL
// of each rel discovery knows, Link headers before HTML <link>s, resolved
// against the URL that answered (after redirects), which it returns too.
// The token verifier and the sign-in client both discover through it.
func fetchLinks(ctx context.Context, client *http.Client, page string) (pick func(rel string) string, base *url.URL, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("discover: %w", err)
	}
	req.Header.Set("Accept", "text/html, application/xhtml+xml;q=0.9, */*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("discover: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("discover: %s answered status %d", page, resp.StatusCode)
	}
	base = resp.Request.URL
	header := parseLinkHeader(resp.Header.Values("Link"), base)
	var links map[string]string
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" || mt == "application/xhtml+xml" {
		links = parseHTMLLinks(io.LimitReader(resp.Body, pageLimit), base)
	}
	return func(rel string) string {
		if u := header[rel]; u != "" {
			return u
		}
		return links[rel]
	}, base, nil
}

// fetchMetadata reads an IndieAuth server metadata document.
func (v *Verifier) fetchMetadata(ctx context.Context, metaURL string) (endpoints, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return endpoints{}, fmt.Errorf("discover metadata: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	status, _, body, err := readReply(v.client, req)
	if err != nil {
		return endpoints{}, fmt.Errorf("discover metadata: %w", err)
	}
	if status != http.StatusOK {
		return endpoints{}, fmt.Errorf("discover metadata %s: status %d", metaURL, status)
	}
	var m struct {
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return endpoints{}, fmt.Errorf("discover metadata %s: not a JSON object", metaURL)
	}
	base, _ := url.Parse(metaURL)
	var found endpoints
	for _, f := range []struct {
		name     string
		raw      string
		resolved *string
	}{
		{"introspection_endpoint", m.IntrospectionEndpoint, &found.introspection},
		{"token_endpoint", m.TokenEndpoint, &found.token},
	} {
		if f.raw == "" {
			continue
		}
		u, err := base.Parse(f.raw)
		if err != nil {
			return endpoints{}, fmt.Errorf("discover metadata %s: %s: %w", metaURL, f.name, err)
		}
		if err := checkEndpoint(u.String()); err != nil {
			return endpoints{}, fmt.Errorf("discover metadata %s: %s: %w", metaURL, f.name, err)
		}
		*f.resolved = u.String()
	}
	if found == (endpoints{}) {
		return endpoints{}, fmt.Errorf("discover metadata %s: no token_endpoint or introspection_endpoint", metaURL)
	}
	return found, nil
}

// parseLinkHeader returns the first URL for each rel in RFC 8288 Link
// headers, resolved against base. One header may hold several links
// separated by commas, and one link several space-separated rels.
func parseLinkHeader(values []string, base *url.URL) map[string]string {
	out := make(map[string]string)
	for _, v := range values {
		for v != "" {
			start := strings.IndexByte(v, '<')
			if start < 0 {
				break
			}
			end := strings.IndexByte(v[start:], '>')
			if end < 0 {
				break
			}
			target := v[start+1 : start+end]
			v = v[start+end+1:]
			// Parameters run to the next comma outside quotes.
			params, rest := splitParams(v)
			v = rest
			for _, p := range params {
				name, val, _ := strings.Cut(p, "=")
				if !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					addLink(out, strings.ToLower(rel), target, base)
				}
			}
		}
	}
	return out
}

// splitParams splits "; a=1; rel=\"x y\", <next>" into its parameters and
// the rest after the comma that ends the link.
func splitParams(s string) (params []string, rest string) {
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			params = append(params, s[start:i])
			start = i + 1
		case c == ',' && !inQuote:
			return append(params, s[start:i]), s[i+1:]
		}
	}
	return append(params, s[start:]), ""
}

// parseHTMLLinks returns the first href of each rel among the page's <link>
// elements, resolved against base.
func parseHTMLLinks(r io.Reader, base *url.URL) map[string]string {
	out := make(map[string]string)
	z := html.NewTokenizer(r)
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !bytes.Equal(name, []byte("link")) || !hasAttr {
				continue
			}
			var rels, href string
			hasHref := false
			for more := true; more; {
				var k, val []byte
				k, val, more = z.TagAttr()
				switch string(k) {
				case "rel":
					rels = string(val)
				case "href":
					href, hasHref = string(val), true
				}
			}
			if !hasHref {
				continue
			}
			for _, rel := range strings.Fields(rels) {
				addLink(out, strings.ToLower(rel), href, base)
			}
		}
	}
}

func addLink(out map[string]string, rel, href string, base *url.URL) {
	if rel != relMetadata && rel != relToken && rel != relAuthorization {
		return
	}
	if _, seen := out[rel]; seen {
		return
	}
	if u, err := base.Parse(strings.TrimSpace(href)); err == nil {
		out[rel] = u.String()
	}
}
