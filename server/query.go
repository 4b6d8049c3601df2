package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spano/index"
	"spano/indieauth"
)

// queries are the q= values the endpoint answers, in the order q=config
// lists them. source and last need the media index.
func (s *Server) queries() []query {
	qs := []query{{name: "config", handle: s.queryConfig}}
	if s.index != nil {
		qs = append(qs, query{name: "source", handle: s.querySource}, query{name: "last", handle: s.queryLast})
	}
	return qs
}

// query is one q= value and its handler.
type query struct {
	name   string
	handle func(http.ResponseWriter, *http.Request) error
}

// query is GET {endpoint_path}?q=…. Queries need a token that may upload:
// they reveal the site's media, including files not yet published.
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
	// The value is not echoed: a client's text in an answer invites
	// injection wherever the answer is shown.
	names := []string{}
	for _, qu := range s.queries() {
		names = append(names, qu.name)
	}
	return badRequest("unsupported query; this endpoint answers q="+strings.Join(names, ", q="), nil)
}

// authenticate checks that a request without a body carries a valid
// token with one of auth.scopes.
func (s *Server) authenticate(r *http.Request) error {
	token, err := indieauth.Extract(r, "")
	if err != nil {
		return err
	}
	_, err = s.authorize(r.Context(), token, s.scopes)
	return err
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

// sourceItem is one item of q=source: the upload's URL and facts. Images
// have a width, height and thumbnails (an empty list when none were
// made); other media have neither.
type sourceItem struct {
	URL        string        `json:"url"`
	Published  string        `json:"published"`
	MimeType   string        `json:"mime_type"`
	Size       int64         `json:"size"`
	SHA256     string        `json:"sha256"`
	Width      int           `json:"width,omitempty"`
	Height     int           `json:"height,omitempty"`
	Duration   float64       `json:"duration,omitempty"`
	Poster     string        `json:"poster,omitempty"`
	Thumbnails []variantJSON `json:"thumbnails,omitzero"`
	Storage    string        `json:"storage"`
	Client     string        `json:"client,omitempty"`
	Filename   string        `json:"filename,omitempty"`
	// Commit is the commit that added the file; left out when not known
	// (older than a shallow clone's history), and then so is Pushed.
	Commit string `json:"commit,omitempty"`
	// Pushed: the remote has that commit; false with push off.
	Pushed *bool `json:"pushed,omitempty"`
	// Live: the site serves the file; left out without a live check.
	Live *bool `json:"live,omitempty"`
}

// PushState says whether a commit has reached the remote without waiting
// for the repository's writer; *repo.Repo is the real one. A Repository
// that is not one leaves `pushed` out of q=source.
type PushState interface {
	Pushed(commit string) bool
}

// Live says whether the site serves an upload yet (SPEC.md "Live
// check"); the live checker is the real one.
type Live interface {
	Live(sha256 string) bool
}

type sourcePage struct {
	Items  []sourceItem `json:"items"`
	Paging paging       `json:"paging"`
}

type paging struct {
	After string `json:"after,omitempty"`
}

// querySource is q=source: the site's media, newest first, a page at a
// time (limit, offset, after, mime_type), or one item by url.
func (s *Server) querySource(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	params := r.URL.Query()
	if u := params.Get("url"); u != "" || params.Has("url") {
		it, err := s.lookup(r, u)
		if err != nil {
			return err
		}
		s.writeJSON(w, r, http.StatusOK, s.sourceItem(it))
		return nil
	}
	limit, err := intParam(params.Get("limit"), "limit", 1)
	if err != nil {
		return err
	}
	offset, err := intParam(params.Get("offset"), "offset", 0)
	if err != nil {
		return err
	}
	page, err := s.index.Page(ctx, index.Query{
		Limit: limit, Offset: offset, After: params.Get("after"), Type: params.Get("mime_type"),
	})
	if errors.Is(err, index.ErrBadCursor) {
		return badRequest("the after cursor is not one this endpoint gave out", err)
	}
	if err != nil {
		return fmt.Errorf("query source: %w", err)
	}
	body := sourcePage{Items: make([]sourceItem, len(page.Items)), Paging: paging{After: page.After}}
	for i, it := range page.Items {
		body.Items[i] = s.sourceItem(it)
	}
	s.writeJSON(w, r, http.StatusOK, body)
	return nil
}

// queryLast is q=last: the URL of the newest upload. With no media yet
// it answers {} (200), which clients treat as "nothing uploaded": an
// error would read as a broken endpoint.
func (s *Server) queryLast(w http.ResponseWriter, r *http.Request) error {
	it, ok, err := s.index.Latest(r.Context())
	if err != nil {
		return fmt.Errorf("query last: %w", err)
	}
	body := map[string]string{}
	if ok {
		body["url"] = it.Record(s.layout).URL
	}
	s.writeJSON(w, r, http.StatusOK, body)
	return nil
}

// intParam reads a non-negative integer parameter, at least min; ""
// gives 0 (the default).
func intParam(v, name string, min int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, badRequest(fmt.Sprintf("%s must be an integer of at least %d", name, min), err)
	}
	return n, nil
}

// lookup finds the original that a published URL names: 400 when the URL
// is not one of this site's media URLs or names nothing on the branch.
func (s *Server) lookup(r *http.Request, u string) (index.Item, error) {
	path, ok := s.layout.PathOf(u)
	if !ok {
		return index.Item{}, badRequest("url is not the URL of a file this endpoint stored", nil)
	}
	it, found, err := s.index.Get(r.Context(), path)
	if err != nil {
		return index.Item{}, fmt.Errorf("look up %s: %w", path, err)
	}
	if !found {
		return index.Item{}, badRequest("no media at url", nil)
	}
	return it, nil
}

// sourceItem is an index item as q=source lists it.
func (s *Server) sourceItem(it index.Item) sourceItem {
	rec := it.Record(s.layout)
	out := sourceItem{
		URL: rec.URL, Published: rec.Published.Format(time.RFC3339),
		MimeType: rec.Type, Size: rec.Size, SHA256: rec.SHA256,
		Width: rec.Width, Height: rec.Height, Duration: rec.Duration, Poster: rec.Poster,
		Storage: rec.Storage, Client: rec.Client, Filename: rec.Filename,
	}
	if strings.HasPrefix(rec.Type, "image/") {
		out.Thumbnails = variants(rec.Variants)
	}
	out.Commit = it.Commit
	if ps, ok := s.repo.(PushState); ok && it.Commit != "" {
		out.Pushed = new(ps.Pushed(it.Commit))
	}
	if s.live != nil {
		out.Live = new(s.live.Live(it.SHA256))
	}
	return out
}
