package live

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadRefusesBadState(t *testing.T) {
	dir := t.TempDir()
	sha := hex.EncodeToString(make([]byte, 32))
	for _, tt := range []struct{ name, content string }{
		{"not json", "{"},
		{"other version", `{"version": 2, "uploads": []}`},
		{"bad status", `{"version": 1, "uploads": [{"sha256": "` + sha + `", "url": "https://e/x", "size": 1, "status": "maybe"}]}`},
		{"bad hash", `{"version": 1, "uploads": [{"sha256": "x", "url": "https://e/x", "size": 1, "status": "live"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p); err == nil {
				t.Error("Load accepted it")
			}
			if _, err := New(Options{StateFile: p, Allowed: []string{"https://e/"}}); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	st, err := Load(filepath.Join(dir, "missing.json"))
	if err != nil || len(st.Entries()) != 0 || st.Live(sha) {
		t.Errorf("a missing state file: %v, %d entries", err, len(st.Entries()))
	}
}

// TestStateWithoutClose reads the state a Checker leaves when it is
// killed: the state file from its start plus its journal, a torn last
// line ignored and a torn middle refused.
func TestStateWithoutClose(t *testing.T) {
	site := newFakeSite(t)
	state := filepath.Join(t.TempDir(), "live.json")
	opts, _ := site.options(t, state)
	opts.FirstDelay = time.Hour
	c := newChecker(t, opts)
	pending, forgotten, live := site.item(1, 10), site.item(2, 20), site.item(3, 30)
	for _, it := range []Item{pending, forgotten} {
		if err := c.Watch(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MarkLive(live); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(forgotten.SHA256); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		st, err := Load(state)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := st.Entry(pending.SHA256); !ok || e.Status != StatusPending || e.URL != pending.URL {
			t.Errorf("pending upload: %+v, %v", e, ok)
		}
		if _, ok := st.Entry(forgotten.SHA256); ok {
			t.Error("the forgotten upload is in the state")
		}
		if !st.Live(live.SHA256) || st.Live(pending.SHA256) {
			t.Error("Live is wrong")
		}
	}
	check(t)

	journal := state + journalSuffix
	appendBytes(t, journal, `{"sha256":"`+pending.SHA256+`","status":"li`)
	t.Run("torn last line", check)
	appendBytes(t, journal, "\n"+`{"sha256":"x"}`+"\n")
	if _, err := Load(state); err == nil {
		t.Error("Load accepted a journal with a broken line inside")
	}
}

func appendBytes(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestJournalCompacts(t *testing.T) {
	defer func(n int) { compactAfter = n }(compactAfter)
	compactAfter = 5
	site := newFakeSite(t)
	state := filepath.Join(t.TempDir(), "live.json")
	opts, _ := site.options(t, state)
	opts.FirstDelay = time.Hour
	c := newChecker(t, opts)
	for i := range 12 {
		if err := c.Watch(site.item(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(state + journalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Errorf("%d lines in the journal after 12 changes compacted every 5, want 2", n)
	}
	st, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Entries()); n != 12 {
		t.Errorf("%d uploads in the state, want 12", n)
	}
}
