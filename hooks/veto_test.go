package hooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes a spooled upload for a veto hook to look at.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVetoScript(t *testing.T) {
	tests := []struct {
		name       string
		content    string
		wantVeto   *VetoError
		wantResult string
	}{
		{"clean file passes", "just a picture", nil, resultOK},
		{"infected file is vetoed", "xx SPANO-TEST-SIGNATURE xx", &VetoError{Hook: "scan", Message: "infected: Spano.Test.Signature"}, resultVeto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, _ := testRunner(t, []Hook{{Name: "scan", Events: []string{EventUpload}, Command: []string{"testdata/veto.sh"}}}, Options{})
			err := r.Veto(context.Background(), Event{SHA256: "ab12", File: writeFile(t, tt.content)})
			var verr *VetoError
			switch {
			case tt.wantVeto == nil && err != nil:
				t.Fatalf("Veto: %v, want nil", err)
			case tt.wantVeto != nil && !errors.As(err, &verr):
				t.Fatalf("Veto: %v, want a *VetoError", err)
			case tt.wantVeto != nil && *verr != *tt.wantVeto:
				t.Errorf("Veto: got %+v, want %+v", *verr, *tt.wantVeto)
			}
			if got, want := runs(r, "scan", EventUpload, tt.wantResult), 1.0; got != want {
				t.Errorf("runs{result=%s}: got %v, want %v", tt.wantResult, got, want)
			}
		})
	}
}

func TestVetoStopsAtFirstRejection(t *testing.T) {
	tests := []struct {
		name        string
		content     string
		wantVeto    bool
		wantMarkers bool
	}{
		{"clean: every upload hook runs", "ok", false, true},
		{"infected: later hooks do not run", "SPANO-TEST-SIGNATURE", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			after := filepath.Join(dir, "after")
			post := filepath.Join(dir, "post")
			r, _, _ := testRunner(t, []Hook{
				{Name: "scan", Events: []string{EventUpload}, Command: []string{"testdata/veto.sh"}},
				{Name: "after", Events: []string{EventUpload}, Command: []string{"touch", after}},
				{Name: "post", Events: []string{EventStored}, Command: []string{"touch", post}},
			}, Options{Env: []string{"PATH=" + os.Getenv("PATH")}})
			err := r.Veto(context.Background(), Event{File: writeFile(t, tt.content)})
			var verr *VetoError
			if got, want := errors.As(err, &verr), tt.wantVeto; got != want {
				t.Fatalf("Veto: %v, want veto %v", err, want)
			}
			if _, err := os.Stat(after); (err == nil) != tt.wantMarkers {
				t.Errorf("second upload hook ran: %v, want %v", err == nil, tt.wantMarkers)
			}
			if _, err := os.Stat(post); err == nil {
				t.Errorf("Veto ran a hook subscribed only to stored")
			}
		})
	}
}

func TestVetoMessages(t *testing.T) {
	type response struct {
		status int
		body   string
	}
	tests := []struct {
		name       string
		command    []string
		response   *response // a webhook answering this, when command is nil
		unreached  bool      // a webhook at a closed server
		timeout    time.Duration
		want       string
		wantResult string
	}{
		{name: "stderr first line", command: []string{"sh", "-c", "echo 'too big' >&2; echo more >&2; exit 2"}, want: "too big", wantResult: resultVeto},
		{name: "stdout when stderr is empty", command: []string{"sh", "-c", "echo 'stdin: Eicar-Signature FOUND'; exit 1"}, want: "stdin: Eicar-Signature FOUND", wantResult: resultVeto},
		{name: "stderr wins over stdout", command: []string{"sh", "-c", "echo out; echo err >&2; exit 1"}, want: "err", wantResult: resultVeto},
		{name: "no output: generic", command: []string{"sh", "-c", "exit 3"}, want: "upload rejected by hook h", wantResult: resultVeto},
		{name: "control characters removed", command: []string{"sh", "-c", `printf 'bad\033[31m file\007\n' >&2; exit 1`}, want: "bad[31m file", wantResult: resultVeto},
		{name: "long line capped", command: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"}, want: strings.Repeat("x", maxMessage) + "…", wantResult: resultVeto},
		{name: "cannot start", command: []string{"/nonexistent/scanner"}, want: "hook h failed", wantResult: resultError},
		{name: "timeout", command: []string{"sleep", "5"}, timeout: 100 * time.Millisecond, want: "hook h timed out", wantResult: resultTimeout},
		{name: "webhook 403 body first line", response: &response{403, "file type not allowed here\n<html>"}, want: "file type not allowed here", wantResult: resultVeto},
		{name: "webhook 500 empty body", response: &response{500, ""}, want: "upload rejected by hook h", wantResult: resultError},
		{name: "webhook 429 body", response: &response{429, "slow down"}, want: "slow down", wantResult: resultError},
		{name: "webhook unreachable", unreached: true, want: "hook h failed", wantResult: resultError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Hook{Name: "h", Events: []string{EventUpload}, Command: tt.command, Timeout: tt.timeout}
			if tt.response != nil || tt.unreached {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(tt.response.status)
					w.Write([]byte(tt.response.body))
				}))
				defer srv.Close()
				h.URL = srv.URL
				if tt.unreached {
					srv.Close()
				}
			}
			r, _, _ := testRunner(t, []Hook{h}, Options{Env: []string{"PATH=" + os.Getenv("PATH")}})
			err := r.Veto(context.Background(), Event{File: writeFile(t, "x")})
			var verr *VetoError
			if !errors.As(err, &verr) {
				t.Fatalf("Veto: %v, want a *VetoError", err)
			}
			if got, want := verr.Message, tt.want; got != want {
				t.Errorf("message: got %q, want %q", got, want)
			}
			if got, want := verr.Hook, "h"; got != want {
				t.Errorf("hook: got %q, want %q", got, want)
			}
			if got, want := runs(r, "h", EventUpload, tt.wantResult), 1.0; got != want {
				t.Errorf("runs{result=%s}: got %v, want %v", tt.wantResult, got, want)
			}
		})
	}
}

func TestVetoWebhookNotRetried(t *testing.T) {
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r, _, _ := testRunner(t, []Hook{{Name: "h", Events: []string{EventUpload}, URL: srv.URL}}, Options{Retries: 5})
	var verr *VetoError
	if err := r.Veto(context.Background(), Event{}); !errors.As(err, &verr) {
		t.Fatalf("Veto: %v, want a *VetoError", err)
	}
	if got, want := requests, 1; got != want {
		t.Errorf("requests: got %d, want %d (the client is waiting)", got, want)
	}
}

func TestVetoCallerCancels(t *testing.T) {
	r, _, _ := testRunner(t, []Hook{{Name: "h", Events: []string{EventUpload}, Command: []string{"sleep", "5"}}}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Veto(ctx, Event{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Veto: got %v, want context.DeadlineExceeded", err)
	}
	var verr *VetoError
	if errors.As(err, &verr) {
		t.Errorf("Veto: got a VetoError %v for a cancelled request", verr)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Veto took %v after the caller gave up", elapsed)
	}
}

func TestVetoOnlyUpload(t *testing.T) {
	r, _, _ := testRunner(t, []Hook{{Name: "h", Events: []string{EventUpload, EventStored}, Command: []string{"true"}}}, Options{})
	err := r.Veto(context.Background(), Event{Event: EventStored})
	var verr *VetoError
	if err == nil || errors.As(err, &verr) {
		t.Errorf("Veto(stored): got %v, want a plain error", err)
	}
	if got, want := runs(r, "h", EventStored, resultOK), 0.0; got != want {
		t.Errorf("runs: got %v, want %v", got, want)
	}
}

func TestVetoWithoutUploadHooks(t *testing.T) {
	r, _, _ := testRunner(t, []Hook{{Name: "h", Events: []string{EventStored}, Command: []string{"false"}}}, Options{})
	if err := r.Veto(context.Background(), Event{}); err != nil {
		t.Errorf("Veto: %v, want nil", err)
	}
}
