package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"spano/gpsstrip"
	"spano/hashstore"
	"spano/heic"
	"spano/hooks"
	"spano/indieauth"
	"spano/ingest"
	"spano/netlimit"
	"spano/objstore"
	"spano/repo"
	"spano/thumbs"
)

// Micropub error codes.
const (
	codeInvalidRequest    = "invalid_request"
	codeUnauthorized      = "unauthorized"
	codeInvalidToken      = "invalid_token"
	codeForbidden         = "forbidden"
	codeInsufficientScope = "insufficient_scope"
	codeUnavailable       = "temporarily_unavailable"
	codeServerError       = "server_error"
	codeNotFound          = "not_found"
)

// retryAfter is what 503 answers tell clients to wait, in seconds: long
// enough for a push retry or a token endpoint to recover, short enough for
// a person holding a phone.
const retryAfter = 30

// rateLimitedRetryAfter is what a 429 tells a client that sent too many
// bad tokens to wait: the time one more failure is allowed at
// indieauth's default rate.
const rateLimitedRetryAfter = 60 / indieauth.DefaultFailuresPerMinute

// Error is a failure a client may be told about: its status, Micropub
// error code and a description written for the client. Err is the cause,
// logged but never sent.
type Error struct {
	Status      int
	Code        string
	Description string
	Scope       string // insufficient_scope: the scopes that would do
	// Header holds extra response headers, e.g. WWW-Authenticate.
	Header http.Header
	Err    error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Description)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// errorBody is the JSON of every error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

var (
	errNotFound         = &Error{Status: http.StatusNotFound, Code: codeNotFound, Description: "not found"}
	errMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Code: codeInvalidRequest, Description: "method not allowed"}
)

// badRequest is a 400 invalid_request; cause may be nil.
func badRequest(description string, cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Description: description, Err: cause}
}

// unavailable is a 503 telling the client when to retry.
func unavailable(description string, cause error) *Error {
	return &Error{
		Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: description,
		Header: http.Header{"Retry-After": {strconv.Itoa(retryAfter)}}, Err: cause,
	}
}

// classify maps the errors of spano's packages to client-facing errors. It
// is the one place where a sentinel becomes a status; an error it does not
// know stays a bare 500.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, c := range []func(error) *Error{classifyRequest, classifyToken, classifyContent, classifyRepo} {
		if e := c(err); e != nil {
			return e
		}
	}
	return nil
}

// classifyRequest maps errors of the request and its body.
func classifyRequest(err error) *Error {
	var (
		maxBytes *http.MaxBytesError
		size     *hashstore.SizeError
		typ      *hashstore.TypeError
		git      *objstore.GitLimitError
	)
	switch {
	case errors.As(err, &size):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest,
			Description: fmt.Sprintf("file is larger than %d bytes", size.Limit), Err: err}
	case errors.Is(err, hashstore.ErrTooLarge), errors.As(err, &maxBytes):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest,
			Description: "request is too large", Err: err}
	case errors.As(err, &git):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest,
			Description: git.Error(), Err: err}
	case errors.Is(err, netlimit.ErrTooSlow):
		return &Error{Status: http.StatusRequestTimeout, Code: codeInvalidRequest,
			Description: "the request body arrived too slowly", Err: err}
	case errors.Is(err, hashstore.ErrEmpty):
		return badRequest("file is empty", err)
	case errors.As(err, &typ) && typ.Reason != "":
		return &Error{Status: http.StatusUnsupportedMediaType, Code: codeInvalidRequest,
			Description: "the file is refused: it " + typ.Reason + ", which a browser could run", Err: err}
	case errors.As(err, &typ):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: codeInvalidRequest,
			Description: "file type " + typ.Type + " is not accepted", Err: err}
	case errors.Is(err, hashstore.ErrTypeNotAllowed):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: codeInvalidRequest,
			Description: "file type is not accepted", Err: err}
	case errors.Is(err, hashstore.ErrBadPath), errors.Is(err, repo.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: codeNotFound, Description: "not found", Err: err}
	}
	return nil
}

// classifyToken maps errors of the access token.
func classifyToken(err error) *Error {
	switch {
	case errors.Is(err, indieauth.ErrNoToken):
		return &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized,
			Description: "an access token is required",
			Header:      http.Header{"Www-Authenticate": {"Bearer"}}, Err: err}
	case errors.Is(err, indieauth.ErrMultipleTokens):
		return badRequest("the access token must be sent in one place only", err)
	case errors.Is(err, indieauth.ErrInvalidToken):
		return &Error{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "the access token is invalid, expired or revoked",
			Header:      http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, Err: err}
	case errors.Is(err, indieauth.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: codeForbidden,
			Description: "the access token was issued for another site", Err: err}
	case errors.Is(err, indieauth.ErrRateLimited):
		return &Error{Status: http.StatusTooManyRequests, Code: codeUnavailable,
			Description: "too many invalid access tokens from this address, try again later",
			Header:      http.Header{"Retry-After": {strconv.Itoa(rateLimitedRetryAfter)}}, Err: err}
	case errors.Is(err, indieauth.ErrUnavailable):
		return unavailable("the token endpoint is unavailable, try again later", err)
	case errors.Is(err, indieauth.ErrMisconfigured):
		return &Error{Status: http.StatusInternalServerError, Code: codeServerError,
			Description: "token verification is misconfigured", Err: err}
	}
	return nil
}

// classifyContent maps the checks of the file's content and the upload hooks' vetoes.
func classifyContent(err error) *Error {
	var (
		veto *hooks.VetoError
	)
	switch {
	case errors.Is(err, thumbs.ErrTooManyPixels):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: "image has too many pixels", Err: err}
	case errors.Is(err, thumbs.ErrUndecodable), errors.Is(err, heic.ErrUndecodable):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: "image cannot be decoded", Err: err}
	case errors.Is(err, heic.ErrTooManyPixels):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: "image has too many pixels", Err: err}
	case errors.Is(err, thumbs.ErrMarkup):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: "image metadata holds markup that a browser could run", Err: err}
	case errors.Is(err, ingest.ErrNoConverter):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: codeInvalidRequest,
			Description: "HEIC and HEIF images are not accepted here", Err: err}
	case errors.Is(err, gpsstrip.ErrMalformed):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: "the file's metadata is malformed", Err: err}
	case errors.As(err, &veto):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest,
			Description: veto.Message, Err: err}
	}
	return nil
}

// classifyRepo maps errors of the repository, the push and object storage.
func classifyRepo(err error) *Error {
	var (
		blocked *repo.PushBlockedError
	)
	switch {
	case errors.As(err, &blocked):
		return unavailable(blocked.Error(), err)
	case errors.Is(err, objstore.ErrUnavailable):
		return unavailable("the object storage is unavailable; nothing was stored, retry later", err)
	case errors.Is(err, repo.ErrPushFailed):
		return unavailable("the file was committed but not yet published, retry later", err)
	case errors.Is(err, repo.ErrClosed):
		return unavailable("the server is shutting down, retry later", err)
	}
	return nil
}

// handle adapts a handler returning error to http.Handler. It is the only
// place where errors are written to clients.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		e := classify(err)
		if e == nil {
			if ctxErr := r.Context().Err(); ctxErr != nil && errors.Is(err, context.Canceled) {
				// The client went away; there is no one to answer.
				noteError(r.Context(), err)
				return
			}
			e = &Error{Status: http.StatusInternalServerError, Code: codeServerError,
				Description: "internal error", Err: err}
		}
		noteError(r.Context(), err)
		for k, vs := range e.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		s.writeJSON(w, r, e.Status, errorBody{Error: e.Code, Description: e.Description, Scope: e.Scope})
	})
}

// encodeJSON writes v as one line of JSON without HTML escaping (URLs stay
// readable).
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
