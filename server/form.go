package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"

	"spano/hashstore"
	"spano/indieauth"
)

// Caps on a multipart upload form. A real client sends one file part and
// at most a few short fields (access_token, a description some clients
// add), each with a header block of two or three lines.
const (
	// maxTokenField caps the short text fields (access_token, action,
	// url); real tokens and URLs are far shorter.
	maxTokenField = 4096
	// maxPartHeader caps one part's header block, boundary line included.
	// mime/multipart alone would hold up to 10 MB of it in memory.
	maxPartHeader = 8 << 10
	// maxParts caps the parts of one form, the file included.
	maxParts = 32
	// maxFieldBytes caps the bytes of all non-file parts together: ignored
	// fields are read and dropped, but not without end.
	maxFieldBytes = 64 << 10
	// MaxUnidentifiedFile is the largest file read from a client that has
	// shown no token yet (SPEC.md: a token after the file part is accepted
	// only for files up to 1 MB).
	MaxUnidentifiedFile = 1 << 20
)

// Errors of the form reader that the access log may show: none of them
// quotes the client's bytes, which may hold a token.
var (
	errPartHeaderTooLarge = errors.New("part header too large")
	errMalformedForm      = errors.New("malformed multipart body")
	errUnidentified       = errors.New("file over 1 MB from an unidentified client")
)

// uploadForm is what readForm found in the multipart body.
type uploadForm struct {
	file     *hashstore.File // nil when there was no file part
	filename string          // the client's name for it, cleaned; "" when none
	token    string          // the access_token field, "" when none
	// tokenChecked: token came before the file and formSource.check
	// accepted it.
	tokenChecked bool
	action       string // the action field: "delete" or ""
	url          string // the url field of a delete
}

// formSource is what readForm needs to know about the client and where
// the file goes.
type formSource struct {
	// authorized: a token from the Authorization header or the query was
	// verified before the body was read.
	authorized bool
	// check verifies an access_token field that arrives before the file
	// part, before a byte of the file is read. Its error is returned as
	// it is (classify maps the indieauth sentinels).
	check func(ctx context.Context, token string) error
	// spool stores the file part. identified is false when the client has
	// shown no token yet: r then ends with an error after
	// MaxUnidentifiedFile bytes, so a caller may give such spools a pool
	// of their own.
	spool func(ctx context.Context, r io.Reader, identified bool) (*hashstore.File, error)
}

// readForm streams the multipart body part by part: the file is spooled
// (hashed and checked) as it arrives, access_token is kept, every other
// part is skipped. Nothing but the file touches the disk and nothing large
// is held in memory: part headers, parts and fields are capped. A client
// that has not identified itself before the file part gets at most
// MaxUnidentifiedFile bytes read, then 401. When the returned form has a
// file, the caller removes it, whatever the error.
func readForm(ctx context.Context, r *http.Request, src formSource) (uploadForm, error) {
	var form uploadForm
	mr, err := multipartReader(r)
	if err != nil {
		return form, err
	}
	sawToken, fieldBytes := false, int64(0)
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return form, partError(err)
		}
		if parts == maxParts {
			return form, badRequest(fmt.Sprintf("the form has more than %d parts", maxParts), nil)
		}
		name := part.FormName()
		if name == "file" || name == "file[]" || part.FileName() != "" {
			if err := readFile(ctx, part, name, src, &form); err != nil {
				return form, err
			}
			part.Close()
			continue
		}
		budget := io.LimitReader(part, maxFieldBytes-fieldBytes+1)
		var value string
		switch name {
		case "access_token", "action", "url":
			value, err = smallField(budget, name)
		default:
			var n int64
			n, err = io.Copy(io.Discard, budget)
			fieldBytes += n
		}
		fieldBytes += int64(len(value))
		if err != nil {
			return form, partError(err)
		}
		if fieldBytes > maxFieldBytes {
			return form, badRequest(fmt.Sprintf("the form's fields hold more than %d bytes", maxFieldBytes), nil)
		}
		switch name {
		case "access_token":
			if sawToken {
				return form, badRequest("the access token must be sent in one place only", indieauth.ErrMultipleTokens)
			}
			sawToken, form.token = true, value
			if form.file == nil && !src.authorized && value != "" && src.check != nil {
				if err := src.check(ctx, value); err != nil {
					return form, err
				}
				form.tokenChecked = true
			}
		case "action":
			form.action = value
		case "url":
			form.url = value
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

// readFile spools the file part into form. A client not yet identified
// gets MaxUnidentifiedFile bytes read at most.
func readFile(ctx context.Context, part *multipart.Part, name string, src formSource, form *uploadForm) error {
	if name != "file" && name != "file[]" {
		return badRequest(fmt.Sprintf("the file part must be named file, not %.40q", name), nil)
	}
	if form.file != nil {
		return badRequest("exactly one file may be uploaded per request", nil)
	}
	identified := src.authorized || form.tokenChecked
	var body io.Reader = part
	if !identified {
		body = &capReader{r: part, left: MaxUnidentifiedFile}
	}
	f, err := src.spool(ctx, body, identified)
	if errors.Is(err, errUnidentified) {
		return &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized,
			Description: "send the access token in the Authorization header: a file over 1 MB is not read from a client that has not identified itself",
			Header:      http.Header{"Www-Authenticate": {"Bearer"}}, Err: err}
	}
	if err != nil {
		return spoolError(err)
	}
	form.file = f
	form.filename = hashstore.CleanFilename(part.FileName())
	return nil
}

// multipartReader checks the request is multipart/form-data with a sane
// boundary and returns a reader whose part headers are capped.
func multipartReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, badRequest("the request must be multipart/form-data", nil)
	}
	boundary := params["boundary"]
	if !validBoundary(boundary) {
		return nil, badRequest("the multipart boundary is missing or malformed", nil)
	}
	return multipart.NewReader(newHeaderGuard(r.Body, boundary, maxPartHeader), boundary), nil
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

// smallField reads a short text part such as access_token or url.
func smallField(part io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxTokenField+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTokenField {
		return "", badRequest(fmt.Sprintf("the %s field is too long", name), nil)
	}
	return strings.TrimSpace(string(b)), nil
}

// partError tells a body over the limit (413), a client too slow or gone,
// and errors of the store (classified later) from a malformed multipart
// body (400). The cause of a 400 never carries mime/multipart's message,
// which quotes the offending line: that line may be a token.
func partError(err error) error {
	var netErr net.Error
	switch {
	case classify(err) != nil, errors.Is(err, context.Canceled), errors.As(err, &netErr):
		return err
	case errors.Is(err, errPartHeaderTooLarge):
		return badRequest(fmt.Sprintf("a part header is larger than %d bytes", maxPartHeader), errPartHeaderTooLarge)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the multipart body ends early", io.ErrUnexpectedEOF)
	}
	return badRequest("the multipart body is malformed", errMalformedForm)
}

// capReader reads at most left bytes of r, then fails with
// errUnidentified: a file larger than that needs an identified client.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errUnidentified
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, errUnidentified
	}
	return n, err
}
