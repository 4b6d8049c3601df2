package live

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
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
