package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"spano/gpsstrip"
	"spano/hashstore"
	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/repo"
	"spano/thumbs"
)

const (
	// multipartSlack is what a request may hold beyond media.max_size:
	// boundaries, part headers and small ignored fields. The file itself
	// is held to max_size by the hashstore.
	multipartSlack = 1 << 20
)

// upload is POST {endpoint_path}: one file in multipart/form-data, stored
// in the repository under the hash of its bytes. It reads as a straight
// line: token (when it is in the header or query) → stream the form,
// spooling the file while hashing it → token (when it came in the body) →
// strip GPS → image checks and thumbnails → upload hook → commit → 201.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) (err error) {
	ctx := r.Context()
	tr := &uploadTrace{now: s.now}
	defer func() { s.finishUpload(ctx, tr, err) }()

	// A token in the header or query is checked before a byte of the body
	// is read, so a bad token costs no upload.
	early, err := indieauth.Extract(r, "")
	if err != nil && !errors.Is(err, indieauth.ErrNoToken) {
		return err
	}
	var tok indieauth.Token
	if early != "" {
		// The form may turn out to be a delete: a token with a delete
		// scope only is refused once the form says otherwise.
		if tok, err = s.authorize(ctx, early, s.scopes, s.deleteScopes); err != nil {
			return err
		}
	}

	limit := s.maxSize + multipartSlack
	if r.ContentLength > limit {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest,
			Description: fmt.Sprintf("file is larger than %d bytes", s.maxSize)}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	endSpool := tr.stage(stageSpool)
	form, err := s.readForm(ctx, r)
	if form.file != nil {
		defer form.file.Remove()
	}
	if err != nil {
		return err
	}
	endSpool()

	// A token in the body may follow the file part; it is checked now,
	// still before any expensive work.
	token, err := indieauth.Extract(r, form.token)
	if err != nil {
		return err
	}
	if token != early {
		if tok, err = s.verify(ctx, token); err != nil {
			return err
		}
	}
	if form.action == actionDelete {
		tr.isDelete = true
		return s.delete(w, r, tok, form.url)
	}
	if err := s.needScope(tok, s.scopes); err != nil {
		return err
	}

	f := form.file
	if s.stripGPS {
		endStrip := tr.stage(stageStrip)
		changed, err := gpsstrip.Strip(ctx, f.Path, f.Type)
		if err != nil {
			return fmt.Errorf("strip gps: %w", err)
		}
		if changed {
			if err := f.Rehash(); err != nil {
				return err
			}
		}
		endStrip()
	}

	origPath := s.store.Path(f.SHA256, f.Ext)
	if item, ok := s.stored(ctx, origPath); ok {
		// Bytes already published (a client's retry, a re-shared photo):
		// no decode, no thumbnails, no upload hook, no commit.
		res, dup, err := s.repo.Duplicate(ctx, origPath)
		if err != nil && !errors.Is(err, repo.ErrPushFailed) {
			return fmt.Errorf("duplicate %s: %w", origPath, err)
		}
		if dup {
			tr.stored(f, true)
			if err != nil {
				return fmt.Errorf("duplicate %s: %w", origPath, err)
			}
			body := uploadResponse{
				URL: s.mediaURL(origPath), SHA256: f.SHA256, Type: f.Type, Size: f.Size,
				Width: item.Width, Height: item.Height,
				Duplicate: true, Commit: res.Commit, Pushed: res.Pushed,
				Thumbnails: []thumbnailJSON{},
			}
			for _, t := range item.Thumbnails {
				body.Thumbnails = append(body.Thumbnails, thumbnailJSON{Width: t.Width, Height: t.Height, URL: s.mediaURL(t.Path)})
			}
			w.Header().Set("Location", body.URL)
			s.writeJSON(w, r, http.StatusCreated, body)
			return nil
		}
		// Deleted meanwhile: store it again, thumbnails and all.
	}

	endThumbs := tr.stage(stageThumbnails)
	img, err := s.image(ctx, f)
	defer removeThumbnails(img.Thumbnails)
	if err != nil {
		return err
	}
	if img.Width > 0 { // an image was checked; other types skip the stage
		endThumbs()
	}

	ev := hooks.Event{
		URL: s.mediaURL(origPath), SHA256: f.SHA256, Path: origPath, Type: f.Type,
		Size: f.Size, Filename: form.filename, Client: tok.ClientID,
	}
	if s.hooks != nil {
		vetoEv := ev
		vetoEv.Event, vetoEv.File = hooks.EventUpload, f.Path
		endVeto := tr.stage(stageVeto)
		if err := s.hooks.Veto(ctx, vetoEv); err != nil {
			return err
		}
		endVeto()
	}

	change := repo.Change{
		Add:     []repo.Blob{{Path: origPath, File: f.Path}},
		Message: commitMessage(f, img.Size, form.filename, tok.ClientID),
	}
	thumbPaths := make([]string, len(img.Thumbnails))
	for i, t := range img.Thumbnails {
		thumbPaths[i] = s.store.ThumbnailPath(f.SHA256, t.Width, t.Ext)
		change.Add = append(change.Add, repo.Blob{Path: thumbPaths[i], File: t.Path})
	}
	endCommit := tr.stage(stageCommit)
	res, commitErr := s.repo.Commit(ctx, change)
	if commitErr != nil && !errors.Is(commitErr, repo.ErrPushFailed) {
		return fmt.Errorf("commit %s: %w", origPath, commitErr)
	}
	endCommit()
	tr.stored(f, res.Duplicate)
	if !res.Duplicate && s.hooks != nil {
		ev.Event, ev.Commit = hooks.EventStored, res.Commit
		s.hooks.Notify(ev)
	}
	if commitErr != nil {
		// The commit stays and is pushed later; the client's retry of the
		// same bytes is a duplicate and gets 201.
		return fmt.Errorf("commit %s: %w", origPath, commitErr)
	}

	body := uploadResponse{
		URL: ev.URL, SHA256: f.SHA256, Type: f.Type, Size: f.Size,
		Width: img.Width, Height: img.Height,
		Duplicate: res.Duplicate, Commit: res.Commit, Pushed: res.Pushed,
		Thumbnails: []thumbnailJSON{},
	}
	for i, t := range img.Thumbnails {
		if res.Duplicate && !s.exists(ctx, thumbPaths[i]) {
			// Stored before thumbnails.widths changed: the commit holding
			// the original decides which thumbnails exist.
			continue
		}
		body.Thumbnails = append(body.Thumbnails, thumbnailJSON{
			Width: t.Width, Height: t.Height, URL: s.mediaURL(thumbPaths[i]),
		})
	}
	w.Header().Set("Location", body.URL)
	s.writeJSON(w, r, http.StatusCreated, body)
	return nil
}

// uploadResponse is the 201 body of SPEC.md.
type uploadResponse struct {
	URL        string          `json:"url"`
	SHA256     string          `json:"sha256"`
	Type       string          `json:"type"`
	Size       int64           `json:"size"`
	Width      int             `json:"width,omitempty"`
	Height     int             `json:"height,omitempty"`
	Duplicate  bool            `json:"duplicate"`
	Commit     string          `json:"commit"`
	Pushed     bool            `json:"pushed"`
	Thumbnails []thumbnailJSON `json:"thumbnails"`
}

type thumbnailJSON struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	URL    string `json:"url"`
}

// authorize verifies token and checks it grants a scope of the first
// list, or of any list that follows.
func (s *Server) authorize(ctx context.Context, token string, scopes ...[]string) (indieauth.Token, error) {
	tok, err := s.verify(ctx, token)
	if err != nil {
		return indieauth.Token{}, err
	}
	for _, list := range scopes {
		if tok.HasAnyScope(list) {
			return tok, nil
		}
	}
	if len(scopes) == 0 {
		return tok, nil
	}
	return indieauth.Token{}, s.needScope(tok, scopes[0])
}

// verify checks token with the verifier.
func (s *Server) verify(ctx context.Context, token string) (indieauth.Token, error) {
	tok, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return indieauth.Token{}, fmt.Errorf("verify token: %w", err)
	}
	return tok, nil
}

// needScope is the 403 for a token that lacks every one of scopes, nil
// when it has one.
func (s *Server) needScope(tok indieauth.Token, scopes []string) error {
	if tok.HasAnyScope(scopes) {
		return nil
	}
	want := strings.Join(scopes, " ")
	return &Error{Status: http.StatusForbidden, Code: codeInsufficientScope,
		Description: "the access token needs one of these scopes: " + want, Scope: want}
}

// imageInfo is what the image checks found: the size from the header, and
// the thumbnails made (temp files the caller removes).
type imageInfo struct {
	thumbs.Size
	Thumbnails []thumbs.Thumbnail
}

// image checks an image upload (pixel limit, decodability), reads its
// size from the header and makes its thumbnails. Other types pass
// unchanged.
func (s *Server) image(ctx context.Context, f *hashstore.File) (imageInfo, error) {
	if s.images == nil || !thumbs.IsImage(f.Type) {
		return imageInfo{}, nil
	}
	// Make probes the header first and refuses too many pixels before a
	// pixel is decoded, so a separate Probe would only read it twice.
	img, err := s.images.Make(ctx, f.Path, f.Type)
	if err != nil {
		return imageInfo{Thumbnails: img.Thumbnails}, fmt.Errorf("make thumbnails: %w", err)
	}
	return imageInfo{Size: img.Size, Thumbnails: img.Thumbnails}, nil
}

func removeThumbnails(ts []thumbs.Thumbnail) {
	for _, t := range ts {
		_ = os.Remove(t.Path)
	}
}

// exists reports whether path is on the branch; a failure to tell counts
// as absent, so a URL is never promised for a file that may not exist.
func (s *Server) exists(ctx context.Context, path string) bool {
	_, err := s.repo.Stat(ctx, path)
	return err == nil
}

// stored returns the index's item for an original already on the branch
// whose size is known (for an image, the index knows its displayed size
// and thumbnails). Without an index, or for a file the index knows only
// partly, the upload takes the full path.
func (s *Server) stored(ctx context.Context, path string) (index.Item, bool) {
	if s.index == nil {
		return index.Item{}, false
	}
	item, ok, err := s.index.Get(ctx, path)
	if err != nil || !ok || (thumbs.IsImage(item.Type) && item.Width == 0) {
		return index.Item{}, false
	}
	return item, true
}

// commitMessage is SPEC.md's subject and trailers. The filename is the
// client's, so it is only ever text in the message, never part of a path.
// An image's displayed size goes in Media-Width and Media-Height, so that
// the index can answer q=source without opening a file.
func commitMessage(f *hashstore.File, size thumbs.Size, filename, client string) repo.Message {
	subject := "Add " + f.SHA256[:12] + "." + f.Ext
	if filename != "" {
		subject += " (" + filename + ")"
	}
	m := repo.Message{Subject: subject, Trailers: []repo.Trailer{
		{Key: "Media-SHA256", Value: f.SHA256},
		{Key: "Media-Type", Value: f.Type},
		{Key: "Media-Size", Value: fmt.Sprint(f.Size)},
	}}
	if size.Width > 0 && size.Height > 0 {
		m.Trailers = append(m.Trailers,
			repo.Trailer{Key: "Media-Width", Value: fmt.Sprint(size.Width)},
			repo.Trailer{Key: "Media-Height", Value: fmt.Sprint(size.Height)})
	}
	if client != "" {
		m.Trailers = append(m.Trailers, repo.Trailer{Key: "Media-Client", Value: client})
	}
	if filename != "" {
		m.Trailers = append(m.Trailers, repo.Trailer{Key: "Media-Filename", Value: filename})
	}
	return m
}

// mediaURL is the absolute URL at which the site publishes repoPath.
func (s *Server) mediaURL(repoPath string) string {
	return s.siteURL + s.mediaURLPath + "/" + s.store.URLPath(repoPath)
}
