package server

import (
	"context"
	"fmt"
	"net/http"

	"spano/ingest"
	"spano/record"
)

// multipartSlack is what a request may hold beyond media.max_size:
// boundaries, part headers and small ignored fields. The file itself is
// held to max_size by the hashstore.
const multipartSlack = 1 << 20

// upload is POST {endpoint_path} with a file: parse the form (spooling the
// file through the pipeline's first stage), authorise, hand the file to
// the pipeline, answer 201. Every stage an upload passes through is in
// package ingest.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) (err error) {
	ctx := r.Context()
	tr := &uploadTrace{now: s.now}
	defer func() { s.finishUpload(ctx, tr, err) }()

	// A token in the header or query is checked before a byte of the body
	// is read, so a bad token costs no upload. The form may turn out to
	// be a delete: then the delete checks its own scope.
	early, err := s.earlyToken(r)
	if err != nil {
		return err
	}
	if r.ContentLength > s.maxSize+multipartSlack {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest,
			Description: fmt.Sprintf("file is larger than %d bytes", s.maxSize)}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxSize+multipartSlack)
	endSpool := tr.Stage(ingest.StageSpool)
	form, err := readForm(ctx, r, formSource{
		authorized: early.raw != "",
		check:      func(ctx context.Context, token string) error { _, err := s.verify(ctx, token); return err },
		spool:      s.spooler.Spool,
	})
	if form.file != nil {
		defer form.file.Remove()
	}
	if err != nil {
		return err
	}
	endSpool()
	tok, err := s.bodyToken(r, early, form.token)
	if err != nil {
		return err
	}
	if form.action == actionDelete {
		tr.isDelete = true
		return s.delete(w, r, tok, form.url)
	}
	if err := s.needScope(tok, s.scopes); err != nil {
		return err
	}

	res, err := s.pipeline.Accept(ctx, ingest.Upload{File: form.file, Filename: form.filename, Client: tok.ClientID}, tr)
	if res.Record.SHA256 != "" {
		tr.stored(res.Record, res.Duplicate)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", res.Record.URL)
	s.writeJSON(w, r, http.StatusCreated, uploadBody(res))
	return nil
}

// uploadResponse is the 201 body of SPEC.md.
type uploadResponse struct {
	URL        string        `json:"url"`
	SHA256     string        `json:"sha256"`
	Type       string        `json:"type"`
	Size       int64         `json:"size"`
	Width      int           `json:"width,omitempty"`
	Height     int           `json:"height,omitempty"`
	Duration   float64       `json:"duration,omitempty"`
	Poster     string        `json:"poster,omitempty"`
	Duplicate  bool          `json:"duplicate"`
	Commit     string        `json:"commit"`
	Pushed     bool          `json:"pushed"`
	Storage    string        `json:"storage"`
	Thumbnails []variantJSON `json:"thumbnails"`
}

// variantJSON is one thumbnail or rendition, in the 201 body and in
// q=source.
type variantJSON struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	URL    string `json:"url"`
	Type   string `json:"type,omitempty"`
}

// uploadBody is the one place the 201 body is built, for new files and
// duplicates alike.
func uploadBody(res ingest.Result) uploadResponse {
	rec := res.Record
	return uploadResponse{
		URL: rec.URL, SHA256: rec.SHA256, Type: rec.Type, Size: rec.Size,
		Width: rec.Width, Height: rec.Height, Duration: rec.Duration, Poster: rec.Poster,
		Duplicate: res.Duplicate, Commit: res.Commit, Pushed: res.Pushed, Storage: rec.Storage,
		Thumbnails: variants(rec.Variants),
	}
}

// variants lists a record's variants for JSON: never null.
func variants(vs []record.Variant) []variantJSON {
	out := make([]variantJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, variantJSON{Width: v.Width, Height: v.Height, URL: v.URL, Type: v.Type})
	}
	return out
}
