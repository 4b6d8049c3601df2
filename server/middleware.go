package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// CORS values of SPEC.md: clients running in a browser may upload and read
// the Location of what they uploaded.
const (
	corsAllowHeaders  = "Authorization, Content-Type"
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsExposeHeaders = "Location"
	corsMaxAge        = "86400"
)

// cors adds CORS headers to every response and answers every OPTIONS
// request with 204, whatever its path, so that preflights never reach the
// router.
func (s *Server) cors(next http.Handler) http.Handler {
	any := slices.Contains(s.corsOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		switch {
		case any:
			h.Set("Access-Control-Allow-Origin", "*")
		case origin != "" && slices.Contains(s.corsOrigins, origin):
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if !any {
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestInfo is what handlers tell the access log about a request.
type requestInfo struct {
	id  string
	err error
}

type requestInfoKey struct{}

// requestID returns the request's id, "" outside a request.
func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// statusClientClosed is logged for requests whose client went away before
// the answer (nginx's convention); it is never sent.
const statusClientClosed = 499

// noteError hands a failed request's cause to its access log line.
func noteError(ctx context.Context, err error) {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		ri.err = err
	}
}

// accessLog gives each request an id (the client's X-Request-Id when it is
// sane, else a new one), echoes it in the response and logs one line when
// the request is done: at Warn for 4xx, Error for 5xx, with the cause the
// handler noted, and at Debug for successful scrapes and health checks. Headers are not logged and access_token is redacted from
// the query, so no token reaches the log.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		ri := &requestInfo{id: r.Header.Get("X-Request-Id")}
		if !validRequestID(ri.id) {
			ri.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", ri.id)
		// Every answer says exactly what it is; a JSON error holding a
		// client's text must never be sniffed into HTML.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
		if rec.status == 0 {
			rec.status = http.StatusOK // nothing written: net/http sends 200
			if r.Context().Err() != nil {
				// The client went away before an answer: nginx's 499
				// "client closed request", so the log does not say 200.
				rec.status = statusClientClosed
			}
		}

		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status >= 400:
			level = slog.LevelWarn
		case r.URL.Path == "/metrics" || r.URL.Path == "/healthz":
			// Scrapes and probes come every few seconds; only their
			// failures are news.
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", truncate(redactedURI(r.URL), maxLoggedURI)),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", s.now().Sub(start)),
			slog.String("request_id", ri.id),
			slog.String("remote", r.RemoteAddr),
		}
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			// Behind a proxy remote is the proxy; the client is here. It is
			// only logged, never trusted, and capped so it cannot flood.
			attrs = append(attrs, slog.String("forwarded_for", fwd[:min(len(fwd), 200)]))
		}
		if ri.err != nil {
			attrs = append(attrs, slog.String("err", ri.err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// validRequestID accepts ids a proxy might send, but nothing that could
// forge a log line or grow it without bound.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// maxLoggedURI caps the path and query in the access log: real ones are a
// few hundred bytes, and a 900 KB path must not make 900 KB of log.
const maxLoggedURI = 1024

// truncate cuts s to at most max bytes, saying how long it was.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// redactedURI is the request path and query with every access_token value
// replaced, keeping the order and encoding of the rest. A query parameter
// whose name cannot be decoded is redacted too, since it might be a token.
func redactedURI(u *url.URL) string {
	p := u.EscapedPath()
	if u.RawQuery == "" {
		return p
	}
	parts := strings.Split(u.RawQuery, "&")
	for i, part := range parts {
		key, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			parts[i] = "REDACTED"
			continue
		}
		if strings.EqualFold(strings.TrimSpace(name), "access_token") {
			parts[i] = key + "=REDACTED"
		}
	}
	return p + "?" + strings.Join(parts, "&")
}

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines) through the recorder.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
