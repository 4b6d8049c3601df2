package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"spano/internal/safebuf"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeMetricsAndJSONLog runs serve with the log flags, uploads, and
// reads /metrics as Prometheus would: the wired registry holds the
// runtime's metrics and every component's, and each moved as the upload
// should have moved it. The log is JSON throughout and has the upload's
// stage timings at debug level.
func TestServeMetricsAndJSONLog(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SPANO_CONFIG", "")
	s := start(t, "serve", "-listen", "127.0.0.1:0", "-log-format", "json", "-log-level", "debug")
	b, err := os.ReadFile(filepath.Join(dir, "spano-data", "token"))
	if err != nil {
		t.Fatal(err)
	}
	uploadPNG(t, "http://"+s.addr+"/micropub/media", strings.TrimSpace(string(b)), 3)

	resp, err := http.Get("http://" + s.addr + "/metrics") // no token: scrapers send none
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
	next:
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
			return 0, true
		}
		return 0, false
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64 // -1: only present
	}{
		{name: "go_goroutines", want: -1},
		{name: "process_resident_memory_bytes", want: -1},
		{name: "spano_build_info", want: 1},
		{name: "spano_uploads_total", labels: map[string]string{"status": "2xx", "reason": "stored"}, want: 1},
		{name: "spano_token_verifications_total", labels: map[string]string{"result": "ok"}, want: 1},
		{name: "spano_token_cache_lookups_total", labels: map[string]string{"result": "miss"}, want: 0}, // a static token
		{name: "spano_commits_total", want: 1},
		{name: "spano_commits_pending", want: 0}, // the embedded default does not push
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := value(tt.name, tt.labels)
			if !ok {
				t.Fatalf("%s%v not exported", tt.name, tt.labels)
			}
			if tt.want >= 0 && got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
			}
		})
	}

	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	var stages map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
			continue
		}
		if line["msg"] == "upload stages" {
			stages = line
		}
	}
	if stages == nil {
		t.Fatalf("no upload stages line at debug level:\n%s", s.stderr)
	}
	for _, key := range []string{"request_id", "sha256", "spool", "strip", "thumbnails", "commit"} {
		if _, ok := stages[key]; !ok {
			t.Errorf("upload stages line lacks %q: %v", key, stages)
		}
	}
}

func TestServeBadLogFormat(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SPANO_CONFIG", "")
	var stderr safebuf.Buffer
	err := run(t.Context(), []string{"serve", "-listen", "127.0.0.1:0", "-log-format", "xml"}, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "log.format") {
		t.Errorf("run = %v, want an error naming log.format", err)
	}
}
