package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spano/hashstore"
)

// healthTimeout bounds a health check: a repository that cannot answer
// within it is not healthy.
const healthTimeout = 5 * time.Second

// serveMedia is GET/HEAD {media.url_path}/…: a committed file straight from
// the repository. Only names the hashstore would produce are looked up, so
// the URL space holds nothing else; the content never changes under a
// name, which makes it cacheable forever.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) error {
	rel := strings.TrimPrefix(r.URL.Path, s.mediaURLPath+"/")
	ref, err := s.store.Parse(rel)
	if err != nil {
		return errNotFound
	}
	path := s.store.Path(ref.SHA256, ref.Ext)
	etag := `"` + ref.SHA256 + `"`
	if ref.Width > 0 {
		path = s.store.ThumbnailPath(ref.SHA256, ref.Width, ref.Ext)
		etag = `"` + ref.SHA256 + "-" + strconv.Itoa(ref.Width) + `w"`
	}
	typ, ok := hashstore.TypeFor(ref.Ext)
	if !ok {
		return errNotFound // Parse accepts known extensions only
	}

	content, entry, err := s.repo.Open(r.Context(), path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer content.Close()

	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	serveContent(w, r, content, entry.Size)
	return nil
}

// healthz answers 200 when the repository is readable and its writer
// answers, else 503, for load balancers and process supervisors.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.repo.Healthy(ctx); err != nil {
		return unavailable("the repository is not available", fmt.Errorf("health: %w", err))
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
