package indieauth

import (
	"net/http"
	"strings"
)

// Extract finds the request's access token in the places Micropub allows:
// the Authorization header (scheme "Bearer", any case), the access_token
// query parameter, and the body. The body belongs to the caller, who may
// need it as a stream, so Extract never reads r.Body: bodyToken is the
// access_token the caller found there (urlencoded or multipart field, or a
// JSON "access_token"), "" if none. It must come from the body alone: a
// value from r.Form or r.FormValue also holds the query parameter and would
// count twice.
//
// Empty values and Authorization headers of other schemes are not tokens.
// More than one token, even the same one twice, gives ErrMultipleTokens, as
// RFC 6750 section 2 forbids more than one method per request; none gives
// ErrNoToken.
func Extract(r *http.Request, bodyToken string) (string, error) {
	var found []string
	for _, h := range r.Header.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if strings.EqualFold(scheme, "Bearer") {
			if t := strings.TrimSpace(rest); t != "" {
				found = append(found, t)
			}
		}
	}
	if r.URL != nil {
		for _, t := range r.URL.Query()["access_token"] {
			if t != "" {
				found = append(found, t)
			}
		}
	}
	if bodyToken != "" {
		found = append(found, bodyToken)
	}
	switch len(found) {
	case 0:
		return "", ErrNoToken
	case 1:
		return found[0], nil
	default:
		return "", ErrMultipleTokens
	}
}
