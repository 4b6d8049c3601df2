package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"spano/hashstore"
	"spano/indieauth"
)

// maxTokenField caps the short text fields (access_token, action,
// url); real tokens and URLs are far shorter.
const maxTokenField = 4096

// uploadForm is what readForm found in the multipart body.
type uploadForm struct {
	file     *hashstore.File // nil when there was no file part
	filename string          // the client's name for it, cleaned; "" when none
	token    string          // the access_token field, "" when none
	action   string          // the action field: "delete" or ""
	url      string          // the url field of a delete
}

// readForm streams the multipart body part by part: the file is spooled
// (hashed and checked) as it arrives, access_token is kept, every other
// part is skipped. Nothing but the file touches the disk and nothing large
// is held in memory. When the returned form has a file, the caller removes
// it, whatever the error.
func (s *Server) readForm(ctx context.Context, r *http.Request, spool func(context.Context, io.Reader) (*hashstore.File, error)) (uploadForm, error) {
	var form uploadForm
	mr, err := r.MultipartReader()
	if err != nil {
		return form, badRequest("the request must be multipart/form-data", err)
	}
	sawToken := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return form, partError(err)
		}
		name := part.FormName()
		switch {
		case name == "file" || name == "file[]" || part.FileName() != "":
			if name != "file" && name != "file[]" {
				return form, badRequest(fmt.Sprintf("the file part must be named file, not %.40q", name), nil)
			}
			if form.file != nil {
				return form, badRequest("exactly one file may be uploaded per request", nil)
			}
			f, err := spool(ctx, part)
			if err != nil {
				return form, spoolError(err)
			}
			form.file = f
			form.filename = hashstore.CleanFilename(part.FileName())
		case name == "access_token":
			if sawToken {
				return form, badRequest("the access token must be sent in one place only", indieauth.ErrMultipleTokens)
			}
			sawToken = true
			if form.token, err = smallField(part, name); err != nil {
				return form, err
			}
		case name == "action":
			if form.action, err = smallField(part, name); err != nil {
				return form, err
			}
		case name == "url":
			if form.url, err = smallField(part, name); err != nil {
				return form, err
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return form, partError(err)
			}
		}
		part.Close()
	}
	switch {
	case form.action != "" && form.action != actionDelete:
		return form, badRequest(fmt.Sprintf("unsupported action %.40q", form.action), nil)
	case form.action == actionDelete && form.file != nil:
		return form, badRequest("a delete request carries no file", nil)
	case form.file == nil && form.action == "":
		return form, badRequest("the request has no file part named file", nil)
	}
	return form, nil
}

// smallField reads a short text part such as access_token or url.
func smallField(part io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxTokenField+1))
	if err != nil {
		return "", partError(err)
	}
	if len(b) > maxTokenField {
		return "", badRequest(fmt.Sprintf("the %s field is too long", name), nil)
	}
	return strings.TrimSpace(string(b)), nil
}

// spoolError tells a failure to read the body (the client's: a
// malformed or cut multipart body, 400) from one of the store's own disk
// (a full disk, no file descriptors left: the server's, 500).
func spoolError(err error) error {
	if errors.Is(err, hashstore.ErrRead) {
		return partError(err)
	}
	return err
}

// partError tells a body over the limit (413) and errors of the store
// (classified later) from a malformed multipart body (400).
func partError(err error) error {
	if classify(err) != nil || errors.Is(err, context.Canceled) {
		return err
	}
	return badRequest("the multipart body is malformed", err)
}
