package live

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"spano/internal/atomicfile"
	"strings"
	"time"
)

// Status is where an upload stands.
type Status string

// The statuses of an upload.
const (
	StatusPending Status = "pending" // polled until live or its deadline
	StatusLive    Status = "live"    // its URL served it
	StatusGaveUp  Status = "gave_up" // its deadline passed first
)

// Entry is what the state file holds for one upload.
type Entry struct {
	Item
	Status   Status    `json:"status"`
	Watched  time.Time `json:"watched"`
	Deadline time.Time `json:"deadline"`
	LiveAt   time.Time `json:"live_at,omitzero"`
}

// stateVersion is the state file's format; a file of another version is
// refused rather than misread.
const stateVersion = 1

// stateFile is the state file's JSON.
type stateFile struct {
	Version int     `json:"version"`
	Uploads []Entry `json:"uploads"`
}

// State is a read-only snapshot of a state file, for readers such as
// spano log that ask which uploads are live without running a Checker.
type State struct {
	entries map[string]*Entry
}

// Load reads the state file at path and the journal beside it. Missing
// files are an empty state: nothing was watched yet.
func Load(path string) (*State, error) {
	st := &State{entries: map[string]*Entry{}}
	f := stateFile{Version: stateVersion}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not written whole yet: only a journal, if anything.
	case err != nil:
		return nil, fmt.Errorf("load state: %w", err)
	default:
		f = stateFile{}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("load state %s: %w", path, err)
		}
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("load state %s: version %d, want %d", path, f.Version, stateVersion)
	}
	for _, e := range f.Uploads {
		if err := checkEntry(e); err != nil {
			return nil, fmt.Errorf("load state %s: %w", path, err)
		}
		st.entries[e.SHA256] = &e
	}
	if err := st.replay(path + journalSuffix); err != nil {
		return nil, fmt.Errorf("load state %s: %w", path, err)
	}
	return st, nil
}

// replay applies the journal's lines, in order, on top of the state
// file. A last line without its newline is a write cut short by a crash,
// whose Watch never returned, and is ignored.
func (s *State) replay(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for n := 1; len(b) > 0; n++ {
		line, rest, complete := bytes.Cut(b, []byte("\n"))
		b = rest
		if !complete {
			break
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("journal line %d: %w", n, err)
		}
		if e.Status == statusForgotten {
			delete(s.entries, e.SHA256)
			continue
		}
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("journal line %d: %w", n, err)
		}
		s.entries[e.SHA256] = &e
	}
	return nil
}

// Live reports whether the upload with this hash was found live.
func (s *State) Live(sha256 string) bool {
	e, ok := s.entries[sha256]
	return ok && e.Status == StatusLive
}

// Entry returns what the state holds for an upload.
func (s *State) Entry(sha256 string) (Entry, bool) {
	e, ok := s.entries[sha256]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Entries returns every upload in the state, ordered by hash.
func (s *State) Entries() []Entry {
	return sortedEntries(s.entries)
}

func sortedEntries(m map[string]*Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.SHA256, b.SHA256) })
	return out
}

// checkEntry refuses an entry no Checker writes.
func checkEntry(e Entry) error {
	if err := checkItem(e.Item); err != nil {
		return err
	}
	switch e.Status {
	case StatusPending, StatusLive, StatusGaveUp:
		return nil
	}
	return fmt.Errorf("%s: status %q", e.SHA256, e.Status)
}

// checkItem refuses an item that could not name an upload.
func checkItem(it Item) error {
	if len(it.SHA256) != 64 || strings.ToLower(it.SHA256) != it.SHA256 {
		return fmt.Errorf("sha256 %q: want 64 lowercase hex", it.SHA256)
	}
	if _, err := hex.DecodeString(it.SHA256); err != nil {
		return fmt.Errorf("sha256 %q: want 64 lowercase hex", it.SHA256)
	}
	if it.Size <= 0 {
		return fmt.Errorf("%s: size %d", it.SHA256, it.Size)
	}
	if it.URL == "" {
		return fmt.Errorf("%s: no url", it.SHA256)
	}
	return nil
}

// journalSuffix names the journal beside the state file.
const journalSuffix = ".journal"

// statusForgotten marks, in the journal only, an upload dropped by Forget.
const statusForgotten Status = "forgotten"

// compactAfter is how many journal lines are appended before the state
// is written whole again, whatever its size. A variable for tests.
var compactAfter = 1024

// openJournal opens the journal for appending.
func openJournal(statePath string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(statePath+journalSuffix, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// record makes the current state of one upload durable: a line appended
// to the journal and fsynced, costing the same with ten uploads in the
// state or ten thousand. The line is taken under saveMu, so the journal's
// last line for an upload is always its latest state.
func (c *Checker) record(sha256 string) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	e, ok := c.entries[sha256]
	line := Entry{Item: Item{SHA256: sha256}, Status: statusForgotten}
	if ok {
		line = *e
	}
	c.mu.Unlock()
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if _, err := c.journal.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := c.journal.Sync(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	c.journalLines++
	if c.journalLines >= compactAfter {
		return c.compactLocked()
	}
	return nil
}

// compact writes the whole state to the state file and empties the
// journal. The caller must not hold saveMu.
func (c *Checker) compact() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return c.compactLocked()
}

// compactLocked writes the state file atomically (a temp file beside it,
// fsynced, renamed over it, the folder fsynced), then truncates the
// journal: a crash between the two replays a journal whose lines the
// state already holds, which changes nothing.
func (c *Checker) compactLocked() error {
	c.mu.Lock()
	f := stateFile{Version: stateVersion, Uploads: sortedEntries(c.entries)}
	c.mu.Unlock()
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := atomicfile.Write(c.opts.StateFile, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := c.journal.Truncate(0); err != nil {
		return fmt.Errorf("save state: truncate journal: %w", err)
	}
	if err := c.journal.Sync(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	c.journalLines = 0
	return nil
}
