package server

import (
	"fmt"
	"net/http"

	"spano/indieauth"
)

// queries are the q= values the endpoint answers, in the order q=config
// lists them. Later queries (source, last) register here.
func (s *Server) queries() []query {
	return []query{
		{name: "config", handle: s.queryConfig},
	}
}

// query is one q= value and its handler.
type query struct {
	name   string
	handle func(http.ResponseWriter, *http.Request) error
}

// query is GET {endpoint_path}?q=…. Queries need a valid token like
// uploads do: they reveal the site's media.
func (s *Server) query(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	if q == "" {
		return badRequest("the q parameter is required", nil)
	}
	for _, qu := range s.queries() {
		if qu.name != q {
			continue
		}
		if err := s.authenticate(r); err != nil {
			return err
		}
		return qu.handle(w, r)
	}
	return badRequest(fmt.Sprintf("unsupported query %.40q", q), nil)
}

// authenticate checks that a request without a body carries a valid token.
// No scope is required: any token the site owner issued may read.
func (s *Server) authenticate(r *http.Request) error {
	token, err := indieauth.Extract(r, "")
	if err != nil {
		return err
	}
	if _, err := s.verifier.Verify(r.Context(), token); err != nil {
		return fmt.Errorf("verify token: %w", err)
	}
	return nil
}

// queryConfig is q=config: where to upload and which queries work.
func (s *Server) queryConfig(w http.ResponseWriter, r *http.Request) error {
	names := []string{}
	for _, qu := range s.queries() {
		names = append(names, qu.name)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{
		"media-endpoint": s.baseURL + s.endpointPath,
		"q":              names,
	})
	return nil
}
