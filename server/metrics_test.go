package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"spano/hashstore"
	"spano/hooks"
	"spano/indieauth"
	"spano/repo"
	"spano/thumbs"
)

// metricsEnv is a server whose metrics are registered on a fresh
// registry, served at /metrics and fed the repository's notices, as
// cmd/spano wires them.
func metricsEnv(t *testing.T) *env {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, envOptions{
		metrics: m, gatherer: reg,
		repoOptions: func(o *repo.Options) { o.Notify = m.Notice },
	})
}

// scrape GETs /metrics without a token, as Prometheus does, and parses the
// text exposition.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		e.t.Errorf("GET /metrics: Content-Type %q, want the text exposition", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// scrapeUntil scrapes until done holds or 5 s have passed: the pusher
// reports a push after it has answered the waiting request, so its
// counters may trail the responses by a moment.
func (e *env) scrapeUntil(done func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	e.t.Helper()
	fams := e.scrape()
	for deadline := time.Now().Add(5 * time.Second); !done(fams) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		fams = e.scrape()
	}
	return fams
}

// sample is the value of the series of name whose labels include want:
// a counter's value, or a histogram's sample count. A missing series is 0.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// TestMetricsAfterUploads makes uploads with known outcomes through the
// real handler, scrapes /metrics and checks that each counter moved by
// what those uploads should have done to it.
func TestMetricsAfterUploads(t *testing.T) {
	e := metricsEnv(t)
	png := makeTinyPNG(t, 7)

	var stored uploadResponse
	resp := e.upload(goodToken, "a.png", png)
	decode(t, resp, &stored)
	if resp.StatusCode != 201 {
		t.Fatalf("first upload: status %d", resp.StatusCode)
	}
	resp = e.upload(goodToken, "again.png", png) // the same bytes: a duplicate
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("duplicate: status %d", resp.StatusCode)
	}
	wantError(t, e.upload(goodToken, "notes.txt", []byte("plain text is not media\n")), 415, codeInvalidRequest)
	wantError(t, e.upload("", "b.png", makeTinyPNG(t, 8)), 401, codeUnauthorized)
	wantError(t, e.upload(unknownToken, "c.png", makeTinyPNG(t, 9)), 401, codeInvalidToken)

	// A delete sent as multipart goes through the upload's form reader,
	// but is no upload.
	body, ct := multipartBody(t, part{name: "action", content: []byte("delete")},
		part{name: "url", content: []byte(stored.URL)})
	resp = e.post(deleteToken, body, ct)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("multipart delete: status %d", resp.StatusCode)
	}

	fams := e.scrapeUntil(func(fams map[string]*dto.MetricFamily) bool {
		return sample(fams, "spano_pushed_commits_total", nil) >= 2
	})
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{name: "stored", metric: "spano_uploads_total", labels: map[string]string{"status": "2xx", "reason": "stored"}, want: 1},
		{name: "duplicate", metric: "spano_uploads_total", labels: map[string]string{"status": "2xx", "reason": "duplicate"}, want: 1},
		{name: "type refused", metric: "spano_uploads_total", labels: map[string]string{"status": "4xx", "reason": "type"}, want: 1},
		{name: "no token", metric: "spano_uploads_total", labels: map[string]string{"status": "4xx", "reason": "unauthorized"}, want: 1},
		{name: "bad token", metric: "spano_uploads_total", labels: map[string]string{"status": "4xx", "reason": "invalid_token"}, want: 1},
		{name: "bytes of the stored file only", metric: "spano_upload_bytes_total", want: float64(len(png))},
		// The stored upload went through every stage; the duplicate was
		// answered from the index after spooling. The 415 failed while
		// spooling; of the 401s, the one without a token was spooled
		// (the token might have come in the body), the one with a bad
		// token in the header was refused before reading the body.
		{name: "spool stage", metric: "spano_upload_stage_seconds", labels: map[string]string{"stage": "spool"}, want: 3},
		{name: "thumbnails stage", metric: "spano_upload_stage_seconds", labels: map[string]string{"stage": "thumbnails"}, want: 1},
		{name: "commit stage", metric: "spano_upload_stage_seconds", labels: map[string]string{"stage": "commit"}, want: 1},
		{name: "no veto stage without hooks", metric: "spano_upload_stage_seconds", labels: map[string]string{"stage": "veto"}, want: 0},
		// Sync push: one push for the upload, one for the delete.
		{name: "push stage", metric: "spano_upload_stage_seconds", labels: map[string]string{"stage": "push"}, want: 2},
		{name: "pushes", metric: "spano_pushes_total", labels: map[string]string{"result": "ok"}, want: 2},
		{name: "failed pushes", metric: "spano_pushes_total", labels: map[string]string{"result": "failed"}, want: 0},
		{name: "commits", metric: "spano_commits_total", want: 2},
		{name: "pushed commits", metric: "spano_pushed_commits_total", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sample(fams, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	var total float64
	for _, m := range fams["spano_uploads_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if got, want := total, 5.0; got != want {
		t.Errorf("sum of spano_uploads_total = %v, want %v (the delete is not an upload)", got, want)
	}
}

// TestMetricsPushFailed: a sync push that fails is a 503 counted as
// push_failed, its bytes are counted (the commit stays), and the failed
// push rounds are counted.
func TestMetricsPushFailed(t *testing.T) {
	e := metricsEnv(t)
	if err := rename(e.remote, e.remote+".away"); err != nil {
		t.Fatal(err)
	}
	png := makeTinyPNG(t, 11)
	wantError(t, e.upload(goodToken, "a.png", png), 503, codeUnavailable)

	fams := e.scrapeUntil(func(fams map[string]*dto.MetricFamily) bool {
		return sample(fams, "spano_pushes_total", map[string]string{"result": "failed"}) >= 1
	})
	if got, want := sample(fams, "spano_uploads_total", map[string]string{"status": "5xx", "reason": "push_failed"}), 1.0; got != want {
		t.Errorf("push_failed uploads = %v, want %v", got, want)
	}
	if got, want := sample(fams, "spano_upload_bytes_total", nil), float64(len(png)); got != want {
		t.Errorf("bytes = %v, want %v", got, want)
	}
	if got := sample(fams, "spano_pushes_total", map[string]string{"result": "failed"}); got < 1 {
		t.Errorf("failed pushes = %v, want at least 1", got)
	}
	if got := sample(fams, "spano_pushes_total", map[string]string{"result": "ok"}); got != 0 {
		t.Errorf("pushes = %v, want 0", got)
	}
}

// TestMetricsRouteOff: without a Gatherer there is no /metrics, so a
// server built without one does not leak an empty endpoint.
func TestMetricsRouteOff(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, resp, 404, codeNotFound)
}

// TestUploadOutcome checks the reason of each client-facing failure, so
// that a new error does not silently land in "other".
func TestUploadOutcome(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		duplicate  bool
		wantStatus string
		wantReason string
	}{
		{name: "stored", wantStatus: "2xx", wantReason: "stored"},
		{name: "duplicate", duplicate: true, wantStatus: "2xx", wantReason: "duplicate"},
		{name: "no token", err: indieauth.ErrNoToken, wantStatus: "4xx", wantReason: "unauthorized"},
		{name: "invalid token", err: indieauth.ErrInvalidToken, wantStatus: "4xx", wantReason: "invalid_token"},
		{name: "other site", err: indieauth.ErrForbidden, wantStatus: "4xx", wantReason: "forbidden"},
		{name: "token endpoint down", err: indieauth.ErrUnavailable, wantStatus: "5xx", wantReason: "auth_unavailable"},
		{name: "scope", err: &Error{Status: 401, Code: codeInsufficientScope}, wantStatus: "4xx", wantReason: "insufficient_scope"},
		{name: "too large", err: &hashstore.SizeError{Limit: 10}, wantStatus: "4xx", wantReason: "too_large"},
		{name: "too large by header", err: &Error{Status: 413, Code: codeInvalidRequest}, wantStatus: "4xx", wantReason: "too_large"},
		{name: "type", err: &hashstore.TypeError{Type: "text/plain"}, wantStatus: "4xx", wantReason: "type"},
		{name: "pixels", err: thumbs.ErrTooManyPixels, wantStatus: "4xx", wantReason: "too_many_pixels"},
		{name: "undecodable", err: thumbs.ErrUndecodable, wantStatus: "4xx", wantReason: "undecodable"},
		{name: "veto", err: &hooks.VetoError{Hook: "scan", Message: "infected"}, wantStatus: "4xx", wantReason: "veto"},
		{name: "bad form", err: badRequest("no file", nil), wantStatus: "4xx", wantReason: "bad_request"},
		{name: "push failed", err: repo.ErrPushFailed, wantStatus: "5xx", wantReason: "push_failed"},
		{name: "shutting down", err: repo.ErrClosed, wantStatus: "5xx", wantReason: "shutting_down"},
		{name: "unknown", err: errors.New("disk full"), wantStatus: "5xx", wantReason: "error"},
		{name: "client gone", err: fmt.Errorf("spool: %w", context.Canceled), wantStatus: "4xx", wantReason: "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, reason := uploadOutcome(tt.err, tt.duplicate)
			if status != tt.wantStatus || reason != tt.wantReason {
				t.Errorf("uploadOutcome(%v) = %s, %s; want %s, %s", tt.err, status, reason, tt.wantStatus, tt.wantReason)
			}
		})
	}
}
