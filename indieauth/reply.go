package indieauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// errUnparsable marks an endpoint reply that is neither JSON nor form data
// with the fields we need; the endpoint is broken, not the token.
var errUnparsable = errors.New("unparsable reply")

// reply is what an introspection or token endpoint said about a token, with
// its quirks ironed out.
type reply struct {
	active   *bool // nil when the reply has no "active"
	me       string
	clientID string
	scopes   []string
	exp      time.Time // zero when absent (or 0)
	errCode  string    // "error" field, e.g. "unauthorized"
}

// parseReply reads a reply in JSON or application/x-www-form-urlencoded.
// Older endpoints answer form-encoded unless Accept is exactly
// application/json, and some label either kind text/plain, so an unknown
// content type is sniffed. HTML (an error page, a login page) is never a
// reply.
func parseReply(contentType string, body []byte) (reply, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSONReply(trimmed)
	case mt == "application/x-www-form-urlencoded":
		return parseFormReply(trimmed)
	case mt == "text/html" || mt == "application/xhtml+xml" || bytes.HasPrefix(trimmed, []byte("<")):
		return reply{}, fmt.Errorf("%w: html", errUnparsable)
	case bytes.HasPrefix(trimmed, []byte("{")):
		return parseJSONReply(trimmed)
	default:
		return parseFormReply(trimmed)
	}
}

func parseJSONReply(body []byte) (reply, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return reply{}, fmt.Errorf("%w: not a JSON object", errUnparsable) // the decoder's message may quote the body
	}
	var r reply
	var err error
	if v, ok := m["active"]; ok {
		var a bool
		switch v := v.(type) {
		case bool:
			a = v
		case string: // "true", as some endpoints send
			a = strings.EqualFold(v, "true")
		default:
			return reply{}, fmt.Errorf("%w: active is %T", errUnparsable, v)
		}
		r.active = &a
	}
	r.me, _ = m["me"].(string)
	r.clientID, _ = m["client_id"].(string)
	r.errCode, _ = m["error"].(string)
	switch v := m["scope"].(type) {
	case string:
		r.scopes = splitScope(v)
	case []any: // a list, as a few endpoints send
		for _, w := range v {
			if s, ok := w.(string); ok {
				r.scopes = append(r.scopes, splitScope(s)...)
			}
		}
	}
	switch v := m["exp"].(type) {
	case nil:
	case json.Number:
		r.exp, err = parseExp(v.String())
	case string:
		r.exp, err = parseExp(v)
	default:
		err = fmt.Errorf("%w: exp is %T", errUnparsable, v)
	}
	if err != nil {
		return reply{}, err
	}
	if r.active == nil && r.me == "" && r.errCode == "" {
		return reply{}, fmt.Errorf("%w: no active, me or error", errUnparsable)
	}
	return r, nil
}

func parseFormReply(body []byte) (reply, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return reply{}, fmt.Errorf("%w: not form data", errUnparsable)
	}
	var r reply
	if q.Has("active") {
		a := strings.EqualFold(q.Get("active"), "true")
		r.active = &a
	}
	r.me = q.Get("me")
	r.clientID = q.Get("client_id")
	r.errCode = q.Get("error")
	r.scopes = splitScope(q.Get("scope"))
	if r.exp, err = parseExp(q.Get("exp")); err != nil {
		return reply{}, err
	}
	if r.active == nil && r.me == "" && r.errCode == "" {
		return reply{}, fmt.Errorf("%w: no active, me or error", errUnparsable)
	}
	return r, nil
}

// parseExp reads exp in seconds since the epoch, given as a JSON number or
// a numeric string, possibly with a fraction. Empty and 0 mean no expiry:
// endpoints that send 0 mean "never", not "1970".
func parseExp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e13 {
		return time.Time{}, fmt.Errorf("%w: exp is not a time", errUnparsable)
	}
	if f == 0 {
		return time.Time{}, nil
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}
