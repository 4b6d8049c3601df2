package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/record"
	"spano/repo"
)

// actionDelete is the Micropub action this endpoint supports.
const actionDelete = "delete"

// maxActionBody caps a urlencoded or JSON body: an action, a URL and a
// token.
const maxActionBody = 64 << 10

// post is POST {endpoint_path}: an upload (multipart/form-data with a
// file), or an action (action=delete&url=…) sent urlencoded, as JSON, or
// as multipart without a file.
func (s *Server) post(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "application/json":
		return s.action(w, r, mt)
	}
	return s.upload(w, r)
}

// actionRequest is a urlencoded or JSON action body.
type actionRequest struct {
	Action      string `json:"action"`
	URL         string `json:"url"`
	AccessToken string `json:"access_token"`
}

// action reads a small urlencoded or JSON body naming an action and
// runs it.
func (s *Server) action(w http.ResponseWriter, r *http.Request, mediaType string) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActionBody))
	if err != nil {
		return fmt.Errorf("read action: %w", err)
	}
	var req actionRequest
	if mediaType == "application/json" {
		if err := json.Unmarshal(b, &req); err != nil {
			return badRequest("the JSON body is malformed", err)
		}
	} else {
		v, err := url.ParseQuery(string(b))
		if err != nil {
			return badRequest("the form body is malformed", err)
		}
		if len(v["access_token"]) > 1 {
			return badRequest("the access token must be sent in one place only", indieauth.ErrMultipleTokens)
		}
		req = actionRequest{Action: v.Get("action"), URL: v.Get("url"), AccessToken: v.Get("access_token")}
	}
	token, err := indieauth.Extract(r, req.AccessToken)
	if err != nil {
		return err
	}
	tok, err := s.verify(r.Context(), token)
	if err != nil {
		return err
	}
	switch req.Action {
	case actionDelete:
		return s.delete(w, r, tok, req.URL)
	case "":
		return badRequest("uploads must be multipart/form-data; other requests need an action", nil)
	}
	return badRequest(fmt.Sprintf("unsupported action %.40q", req.Action), nil)
}

// delete removes the file at the published URL u and its thumbnails from
// the branch in one commit, whose message carries the trailers of the
// upload, and pushes it like an upload. History keeps the file: the same
// bytes uploaded again bring it back.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, tok indieauth.Token, u string) error {
	ctx := r.Context()
	if err := s.needScope(tok, s.deleteScopes); err != nil {
		return err
	}
	if s.index == nil {
		return badRequest("this endpoint does not delete", nil)
	}
	if u == "" {
		return badRequest("the url of the file to delete is required", nil)
	}
	it, err := s.lookup(r, u)
	if err != nil {
		return err
	}

	// The index knows the thumbnails and the record; one removed by hand
	// meanwhile must not fail the whole delete.
	rec := it.Record(s.layout)
	paths := []string{it.Path}
	if rec.Storage == record.StorageS3 {
		// Offloaded: the repository holds its record, not its bytes. The
		// object stays in the bucket, as history does.
		paths = nil
	}
	extra := []string{s.layout.RecordPath(rec.SHA256)}
	if strings.HasPrefix(rec.Type, "video/") {
		// The poster frame is no variant (it has no width in its name),
		// and an index without records does not know it.
		extra = append(extra, s.layout.Store.VariantPath(rec.SHA256, "poster", "jpg"))
	}
	for _, v := range rec.Variants {
		extra = append(extra, v.Path)
	}
	extra = append(extra, s.recordedVariants(ctx, rec.SHA256)...)
	for _, p := range extra {
		if p != "" && s.exists(ctx, p) {
			paths = append(paths, p)
		}
	}
	res, commitErr := s.repo.Commit(ctx, repo.Change{Delete: paths, Message: deleteMessage(it, rec)})
	if errors.Is(commitErr, repo.ErrNotFound) {
		return badRequest("no media at url", commitErr)
	}
	if commitErr != nil && !errors.Is(commitErr, repo.ErrPushFailed) {
		return fmt.Errorf("delete %s: %w", it.Path, commitErr)
	}
	if s.hooks != nil {
		s.hooks.Notify(hooks.EventOf(hooks.EventDeleted, rec, res.Commit, s.now()))
	}
	if commitErr != nil {
		// Deleted here, published later: like an upload whose push failed.
		return fmt.Errorf("delete %s: %w", it.Path, commitErr)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"deleted": u})
	return nil
}

// deleteMessage is "Delete <12 hex>.<ext>" with the upload's trailers, or
// for a file committed without them, the ones spano would have written.
func deleteMessage(it index.Item, rec record.Record) repo.Message {
	if len(it.Trailers) > 0 {
		return repo.Message{Subject: rec.Subject("Delete"), Trailers: it.Trailers}
	}
	return rec.DeleteMessage()
}

// exists reports whether path is on the branch; a failure to tell counts
// as absent, so nothing is promised for a file that may not exist.
// recordedVariants lists the renditions the upload's record file names,
// which the index may not all know (a video's poster thumbnails). Only
// paths beside the original and named after its hash are taken, whatever
// the file says.
func (s *Server) recordedVariants(ctx context.Context, sha256 string) []string {
	rp := s.layout.RecordPath(sha256)
	if rp == "" {
		return nil
	}
	rc, _, err := s.repo.Open(ctx, rp)
	if err != nil {
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecordBytes))
	if err != nil {
		return nil
	}
	rec, err := record.Parse(b)
	if err != nil || rec.SHA256 != sha256 {
		return nil
	}
	prefix := s.layout.Store.VariantPath(sha256, "", "")
	prefix = prefix[:len(prefix)-1] // "media/ab/cd/<hash>-"
	var out []string
	for _, v := range rec.Variants {
		if strings.HasPrefix(v.Path, prefix) && !strings.Contains(v.Path[len(prefix):], "/") {
			out = append(out, v.Path)
		}
	}
	return out
}

// maxRecordBytes bounds the record file read by a delete.
const maxRecordBytes = 1 << 20

func (s *Server) exists(ctx context.Context, path string) bool {
	_, err := s.repo.Stat(ctx, path)
	return err == nil
}
