package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLog(t *testing.T) {
	site, photo, small := uploadedSite(t)

	out, errOut, err := spano(t, "log", "-config", site.config)
	if err != nil {
		t.Fatalf("log: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("log printed %d lines, want a header and 3 entries:\n%s", len(lines), out)
	}
	tests := []struct {
		line int
		want []string
	}{
		{0, []string{"TIME", "ACTION", "URL", "TYPE", "SIZE", "CLIENT", "FILENAME"}},
		{1, []string{"delete", small, "image/png", "small.png"}},
		{2, []string{"add", small, "image/png", "small.png"}},
		{3, []string{"add", photo, "image/png", "photo.png"}},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(lines[tt.line], w) {
				t.Errorf("line %d %q lacks %q", tt.line, lines[tt.line], w)
			}
		}
	}

	out, errOut, err = spano(t, "log", "-config", site.config, "-n", "2", "-json")
	if err != nil {
		t.Fatalf("log -json: %v\n%s", err, errOut)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("log -n 2 printed %d lines:\n%s", len(lines), out)
	}
	var e logEntry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Action != "add" || e.URL != small || e.Type != "image/png" || e.Size == 0 || e.Filename != "small.png" ||
		len(e.Commit) != 40 || time.Since(e.Time) > time.Minute || !strings.HasSuffix(small, e.SHA256+".png") {
		t.Errorf("second entry = %+v", e)
	}
}

func TestLogErrors(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no repository yet", args: []string{"log", "-config", site.config}, want: "no repository"},
		{name: "negative n", args: []string{"log", "-config", site.config, "-n", "-1"}, want: "-n"},
		{name: "argument", args: []string{"log", "-config", site.config, "extra"}, want: "unexpected argument"},
		{name: "fsck without repository", args: []string{"fsck", "-config", site.config}, want: "no repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := spano(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}
