package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spano/gpsstrip"
	"spano/hashstore"
	"spano/heic"
	"spano/hooks"
	"spano/indieauth"
	"spano/objstore"
	"spano/record"
	"spano/repo"
	"spano/thumbs"
)

// stagePush is the stage label of a push round, observed from repository
// notices (the upload stages are ingest's): in async mode it happens after
// the response, and in sync mode the commit stage includes the wait for it.
const stagePush = "push"

// Metrics are the upload pipeline's Prometheus metrics. cmd/spano makes
// one with NewMetrics, hands it to New through Options, and feeds it the
// repository's notices, since pushes happen outside any request.
type Metrics struct {
	uploads  *prometheus.CounterVec   // status, reason
	bytes    prometheus.Counter       // stored bytes of new files
	stages   *prometheus.HistogramVec // stage
	pushes   *prometheus.CounterVec   // result
	commits  prometheus.Counter
	pushedCs prometheus.Counter
}

// NewMetrics makes the metrics and registers them on reg; a nil reg keeps
// them unexported (tests, or a server built without /metrics).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spano_uploads_total",
			Help: "Upload requests by status class (2xx, 4xx, 5xx) and reason (stored, duplicate, too_large, type, unauthorized, push_failed, …).",
		}, []string{"status", "reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spano_upload_bytes_total",
			Help: "Bytes of newly stored originals, as committed (duplicates and thumbnails not counted).",
		}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "spano_upload_stage_seconds",
			Help: "Duration of each stage of an upload (spool, strip, thumbnails, veto, commit) and of each push round (push).",
			// From a small PNG's thumbnails to a 50 MB upload over a phone
			// connection or a push to a slow remote.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"stage"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spano_pushes_total",
			Help: "Push rounds by result (ok, failed); a failed round is retried with backoff.",
		}, []string{"result"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spano_commits_total",
			Help: "Commits made on the branch by this process (uploads and deletes).",
		}),
		pushedCs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spano_pushed_commits_total",
			Help: "Commits the remote accepted.",
		}),
	}
	// Series a dashboard expects are present from the start, at zero.
	m.uploads.WithLabelValues("2xx", "stored")
	m.uploads.WithLabelValues("2xx", "duplicate")
	m.pushes.WithLabelValues("ok")
	m.pushes.WithLabelValues("failed")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.uploads, m.bytes, m.stages, m.pushes, m.commits, m.pushedCs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Notice counts what the repository reports: commits, pushes and their
// duration, failed pushes. cmd/spano calls it from repo.Options.Notify.
func (m *Metrics) Notice(n repo.Notice) {
	switch n.Kind {
	case repo.NoticeCommitted:
		m.commits.Add(float64(len(n.Commits)))
	case repo.NoticePushed:
		// pushedCs last: a scrape that sees the commits pushed sees the
		// push counted and timed too.
		m.stages.WithLabelValues(stagePush).Observe(n.Duration.Seconds())
		m.pushes.WithLabelValues("ok").Inc()
		m.pushedCs.Add(float64(len(n.Commits)))
	case repo.NoticePushFailed:
		m.pushes.WithLabelValues("failed").Inc()
	}
}

// uploadTrace follows one upload for the metrics and the debug log: the
// duration of each stage it completed, and what was stored.
type uploadTrace struct {
	now    func() time.Time
	stages []stageTime
	// isDelete: the POST was a delete sent as multipart, not an upload.
	isDelete bool
	// committed: the repository took the file, even if the push then
	// failed (the commit stays and is pushed later).
	committed bool
	sha256    string
	size      int64
	duplicate bool
}

type stageTime struct {
	name string
	d    time.Duration
}

// Stage starts timing name; calling the returned func records it. A stage
// that fails is not recorded, so the histograms hold work that was done.
func (t *uploadTrace) Stage(name string) func() {
	start := t.now()
	return func() { t.stages = append(t.stages, stageTime{name, t.now().Sub(start)}) }
}

// stored notes the file an upload stored (or found already stored).
func (t *uploadTrace) stored(rec record.Record, duplicate bool) {
	t.committed, t.sha256, t.size, t.duplicate = true, rec.SHA256, rec.Size, duplicate
}

// finishUpload counts an upload by its outcome, observes its stages and
// writes its one debug line of stage timings.
func (s *Server) finishUpload(ctx context.Context, t *uploadTrace, err error) {
	if t.isDelete {
		return
	}
	status, reason := uploadOutcome(err, t.duplicate)
	s.metrics.uploads.WithLabelValues(status, reason).Inc()
	if t.committed && !t.duplicate {
		s.metrics.bytes.Add(float64(t.size))
	}
	for _, st := range t.stages {
		s.metrics.stages.WithLabelValues(st.name).Observe(st.d.Seconds())
	}
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestID(ctx)),
		slog.String("result", reason),
	}
	if t.sha256 != "" {
		attrs = append(attrs, slog.String("sha256", t.sha256), slog.Int64("size", t.size))
	}
	for _, st := range t.stages {
		attrs = append(attrs, slog.Duration(st.name, st.d))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "upload stages", attrs...)
}

// uploadOutcome names an upload's result for spano_uploads_total: the
// status class the client got and a reason from a small fixed set, so
// that the label never grows with user input.
func uploadOutcome(err error, duplicate bool) (status, reason string) {
	switch {
	case err == nil && duplicate:
		return "2xx", "duplicate"
	case err == nil:
		return "2xx", "stored"
	}
	code := http.StatusInternalServerError
	if e := classify(err); e != nil {
		code = e.Status
	} else if errors.Is(err, context.Canceled) {
		// The client went away; no answer was sent (nginx logs it as 499).
		return "4xx", "canceled"
	}
	status = strconv.Itoa(code/100) + "xx"

	var (
		e     *Error
		size  *hashstore.SizeError
		typ   *hashstore.TypeError
		veto  *hooks.VetoError
		maxBy *http.MaxBytesError
		git   *objstore.GitLimitError
	)
	switch {
	case errors.Is(err, indieauth.ErrNoToken):
		return status, "unauthorized"
	case errors.Is(err, indieauth.ErrInvalidToken):
		return status, "invalid_token"
	case errors.Is(err, indieauth.ErrForbidden):
		return status, "forbidden"
	case errors.Is(err, indieauth.ErrUnavailable), errors.Is(err, indieauth.ErrMisconfigured):
		return status, "auth_unavailable"
	case errors.As(err, &size), errors.As(err, &maxBy), errors.Is(err, hashstore.ErrTooLarge):
		return status, "too_large"
	case errors.As(err, &typ), errors.Is(err, hashstore.ErrTypeNotAllowed):
		return status, "type"
	case errors.Is(err, thumbs.ErrTooManyPixels), errors.Is(err, heic.ErrTooManyPixels):
		return status, "too_many_pixels"
	case errors.Is(err, thumbs.ErrUndecodable), errors.Is(err, heic.ErrUndecodable), errors.Is(err, gpsstrip.ErrMalformed):
		return status, "undecodable"
	case errors.Is(err, thumbs.ErrMarkup):
		return status, "markup"
	case errors.Is(err, objstore.ErrUnavailable):
		return status, "storage_unavailable"
	case errors.As(err, &veto):
		return status, "veto"
	case errors.As(err, &git):
		return status, "too_large"
	case errors.Is(err, repo.ErrPushBlocked):
		return status, "push_blocked"
	case errors.Is(err, repo.ErrPushFailed):
		return status, "push_failed"
	case errors.Is(err, repo.ErrClosed):
		return status, "shutting_down"
	case errors.As(err, &e) && e.Code == codeInsufficientScope:
		return status, "insufficient_scope"
	case errors.As(err, &e) && e.Status == http.StatusRequestEntityTooLarge:
		return status, "too_large"
	case code == http.StatusBadRequest:
		return status, "bad_request"
	case code >= 500:
		return status, "error"
	}
	return status, "other"
}
