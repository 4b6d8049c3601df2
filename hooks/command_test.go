package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// alive reports whether pid is a live process; a zombie waiting for init
// to reap it counts as gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// readPids waits for the hook to have written its pids, one a line.
func readPids(t *testing.T, path string, n int) []int {
	t.Helper()
	data, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %q: %v", data, err)
		}
		pids = append(pids, pid)
	}
	if len(pids) != n {
		t.Fatalf("pid file %q: got %d pids, want %d", data, len(pids), n)
	}
	return pids
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name  string
		event string
	}{
		{"upload hook", EventUpload},
		{"post-event hook", EventStored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pids")
			// sh writes its own pid and its background child's, then waits:
			// only killing the whole group stops the child.
			script := `echo $$ > "$0"; sleep 100 & echo $! >> "$0"; sleep 100`
			h := Hook{Name: "hang", Events: []string{tt.event}, Command: []string{"sh", "-c", script, pidFile}, Timeout: 500 * time.Millisecond}
			r, _, _ := testRunner(t, []Hook{h}, Options{Env: []string{"PATH=" + os.Getenv("PATH")}})

			start := time.Now()
			if tt.event == EventUpload {
				var verr *VetoError
				if err := r.Veto(context.Background(), Event{}); !errors.As(err, &verr) {
					t.Fatalf("Veto: %v, want a *VetoError", err)
				}
			} else {
				r.Notify(Event{Event: tt.event})
				closeRunner(t, r)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("hook with a 500ms timeout took %v", elapsed)
			}
			if got, want := runs(r, "hang", tt.event, resultTimeout), 1.0; got != want {
				t.Errorf("runs{result=timeout}: got %v, want %v", got, want)
			}

			pids := readPids(t, pidFile, 2)
			deadline := time.Now().Add(2 * time.Second)
			for _, pid := range pids {
				for alive(pid) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if alive(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("process %d of the hook's group survived the timeout", pid)
				}
			}
		})
	}
}

// readEnv parses the output of env(1) into a map.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hook did not record its environment: %v", err)
	}
	env := make(map[string]string)
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestCommandEnvironmentAndStdin(t *testing.T) {
	dir := t.TempDir()
	spooled := writeFile(t, "bytes")
	base := Event{
		URL:      "https://example.com/media/ab/cd/abcd.jpg",
		SHA256:   "abcd",
		Path:     "media/ab/cd/abcd.jpg",
		Type:     "image/jpeg",
		Size:     1234,
		Filename: "holiday.jpg",
		Client:   "https://quill.example/",
	}
	upload := base
	upload.Event, upload.File = EventUpload, spooled
	stored := base
	stored.Event, stored.Commit, stored.File = EventStored, "0123456789abcdef", spooled

	tests := []struct {
		name    string
		ev      Event
		wantEnv map[string]string // each must be set to exactly this, even ""
	}{
		{"upload", upload, map[string]string{
			"SPANO_EVENT": "upload", "SPANO_URL": base.URL, "SPANO_SHA256": "abcd", "SPANO_PATH": base.Path,
			"SPANO_TYPE": "image/jpeg", "SPANO_COMMIT": "", "SPANO_FILE": spooled, "BASE_VAR": "kept",
		}},
		{"stored", stored, map[string]string{
			"SPANO_EVENT": "stored", "SPANO_URL": base.URL, "SPANO_SHA256": "abcd", "SPANO_PATH": base.Path,
			"SPANO_TYPE": "image/jpeg", "SPANO_COMMIT": "0123456789abcdef", "BASE_VAR": "kept",
		}},
	}
	r, _, _ := testRunner(t, []Hook{{
		Name:    "record",
		Events:  []string{EventUpload, EventStored},
		Command: []string{"testdata/record.sh", dir},
	}}, Options{Env: []string{
		"PATH=" + os.Getenv("PATH"), "BASE_VAR=kept", "SPANO_URL=stale", "SPANO_FILE=/stale/file", "SPANO_COMMIT=stale",
	}})
	if err := r.Veto(context.Background(), upload); err != nil {
		t.Fatalf("Veto: %v", err)
	}
	r.Notify(stored)
	closeRunner(t, r)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := readEnv(t, filepath.Join(dir, tt.ev.Event+".env"))
			for k, want := range tt.wantEnv {
				got, ok := env[k]
				if !ok || got != want {
					t.Errorf("%s: got %q (set %v), want %q", k, got, ok, want)
				}
			}
			if _, ok := env["SPANO_FILE"]; ok != (tt.ev.Event == EventUpload) {
				t.Errorf("SPANO_FILE set: got %v, want %v", ok, tt.ev.Event == EventUpload)
			}

			raw, err := os.ReadFile(filepath.Join(dir, tt.ev.Event+".json"))
			if err != nil {
				t.Fatalf("hook did not record stdin: %v", err)
			}
			if bytes.Contains(raw, []byte(spooled)) {
				t.Errorf("stdin JSON %s holds the local spool path", raw)
			}
			var got Event
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("stdin is not the event JSON: %v: %s", err, raw)
			}
			want := tt.ev
			want.File, want.Time = "", fixedNow
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("stdin event (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPostEventCommandResults(t *testing.T) {
	tests := []struct {
		name       string
		script     string // $0 is a file counting runs
		timeout    time.Duration
		wantResult string
	}{
		{"exit 0", `echo run >> "$0"`, 0, resultOK},
		{"exit 1 is not retried", `echo run >> "$0"; echo failed >&2; exit 1`, 0, resultError},
		{"timeout is not retried", `echo run >> "$0"; sleep 5`, 100 * time.Millisecond, resultTimeout},
		{"megabytes of output", `echo run >> "$0"; head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2`, 0, resultOK},
		{"background child keeps stdout open", `echo run >> "$0"; sleep 1 & exit 0`, 0, resultOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count := filepath.Join(t.TempDir(), "count")
			r, _, logs := testRunner(t, []Hook{{
				Name: "h", Events: []string{EventPushed}, Command: []string{"sh", "-c", tt.script, count}, Timeout: tt.timeout,
			}}, Options{Env: []string{"PATH=" + os.Getenv("PATH")}, Retries: 3})
			r.waitDelay = 100 * time.Millisecond
			r.Notify(Event{Event: EventPushed, SHA256: "ab"})
			closeRunner(t, r)
			if got, want := runs(r, "h", EventPushed, tt.wantResult), 1.0; got != want {
				t.Errorf("runs{result=%s}: got %v, want %v\nlog:\n%s", tt.wantResult, got, want, logs)
			}
			data, _ := os.ReadFile(count)
			if got, want := strings.Count(string(data), "run"), 1; got != want {
				t.Errorf("command ran %d times, want %d", got, want)
			}
			if tt.wantResult != resultOK && !strings.Contains(logs.String(), "hook failed") {
				t.Errorf("failure not logged:\n%s", logs)
			}
		})
	}
}

func TestCappedBuffer(t *testing.T) {
	var b cappedBuffer
	chunk := bytes.Repeat([]byte("y"), 40<<10)
	for range 3 {
		n, err := b.Write(chunk)
		if n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil so the writer never sees a short write", n, err, len(chunk))
		}
	}
	if got, want := len(b.Bytes()), maxOutput; got != want {
		t.Errorf("kept %d bytes, want %d", got, want)
	}
}
