//go:build integration

package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"spano/internal/gittest"
)

// siteRecord is a record file as a template reads it.
type siteRecord struct {
	URL      string  `json:"url"`
	Path     string  `json:"path"`
	SHA256   string  `json:"sha256"`
	Type     string  `json:"type"`
	Size     int64   `json:"size"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Storage  string  `json:"storage"`
	Filename string  `json:"filename"`
	Poster   string  `json:"poster"`
	Duration float64 `json:"duration"`
	Variants []struct {
		URL    string `json:"url"`
		Type   string `json:"type"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
	} `json:"variants"`
}

// recordPath is where the record of sha256 sits for Jekyll's layout.
func recordPath(sha256 string) string {
	return "_data/spano/" + sha256[:2] + "/" + sha256[2:4] + "/" + sha256 + ".json"
}

// readRecord reads the record of sha256 on the remote's main.
func readRecord(t *testing.T, remote, sha256 string) siteRecord {
	t.Helper()
	out, err := exec.Command("git", "-C", remote, "show", "main:"+recordPath(sha256)).Output()
	if err != nil {
		t.Fatalf("the remote's main has no record %s: %v", recordPath(sha256), err)
	}
	var rec siteRecord
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("record %s: %q: %v", recordPath(sha256), out, err)
	}
	return rec
}

// TestRecords: with site.records, each upload's commit holds its record
// file, which says what the 201 said; the delete commit removes it.
func TestRecords(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	o := options{remote: remote, widths: []int{320, 640}}
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		o.ffmpeg = ff
	}
	s := newSpano(t, "records", o)
	s.start()
	ups := []uploaded{
		s.mustUpload("photo.jpg", jpegImage(7, 800, 600)),
		s.mustUpload("icon.png", pngImage(8)),
	}
	names := []string{"photo.jpg", "icon.png"}
	if o.ffmpeg != "" {
		clip := writeVideo(t, t.TempDir(), "clip.mp4", 2<<20, 9)
		ups = append(ups, s.mustUploadFile("clip.mp4", clip))
		names = append(names, "clip.mp4")
	}

	for i, up := range ups {
		rec := readRecord(t, remote, up.SHA256)
		if rec.URL != up.URL || rec.SHA256 != up.SHA256 || rec.Type != up.Type || rec.Size != up.Size ||
			rec.Width != up.Width || rec.Height != up.Height || rec.Storage != up.Storage ||
			rec.Poster != up.Poster || rec.Duration != up.Duration {
			t.Errorf("record %+v\ndisagrees with the 201 %+v", rec, up)
		}
		if rec.Path != repoPath(t, "media", up.URL) || rec.Filename != names[i] {
			t.Errorf("record path %q filename %q, want %q %q", rec.Path, rec.Filename, repoPath(t, "media", up.URL), names[i])
		}
		type variant struct {
			URL, Type     string
			Width, Height int
		}
		var got, want []variant
		for _, v := range rec.Variants {
			got = append(got, variant{v.URL, v.Type, v.Width, v.Height})
		}
		for _, v := range up.Thumbnails {
			want = append(want, variant{v.URL, v.Type, v.Width, v.Height})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: record variants %+v, 201 thumbnails %+v", names[i], got, want)
		}
		// The record is in the upload's own commit.
		inCommit := gittest.Git(t, remote, "show", "--name-only", "--format=", up.Commit)
		if !containsLine(inCommit, recordPath(up.SHA256)) || !containsLine(inCommit, rec.Path) {
			t.Errorf("commit %s holds %q, want the file and its record", up.Commit[:12], inCommit)
		}
	}
	if photo := readRecord(t, remote, ups[0].SHA256); photo.Width != 800 || photo.Height != 600 || len(photo.Variants) != 2 {
		t.Errorf("the photo's record: %d×%d with %d variants, want 800×600 with 320 and 640", photo.Width, photo.Height, len(photo.Variants))
	}

	s.deleteMedia(ups[0].URL)
	have := files(t, remote, "main")
	if have[recordPath(ups[0].SHA256)] || have[repoPath(t, "media", ups[0].URL)] {
		t.Errorf("after the delete the remote still has the photo or its record")
	}
	if !have[recordPath(ups[1].SHA256)] {
		t.Errorf("the delete took another upload's record")
	}
	deleted := gittest.Git(t, remote, "show", "--name-only", "--format=", "main")
	if !containsLine(deleted, recordPath(ups[0].SHA256)) || !containsLine(deleted, filepath.ToSlash(repoPath(t, "media", ups[0].URL))) {
		t.Errorf("the delete commit touched %q, want the photo and its record together", deleted)
	}
	if out, errOut, ok := s.command("fsck"); !ok {
		t.Errorf("fsck after records and a delete:\n%s%s", out, errOut)
	}
	if len(ups) < 3 {
		return
	}
	// A video goes with its poster frame and the poster's thumbnails.
	clip := ups[2]
	if clip.Poster == "" {
		t.Errorf("ffmpeg ran, yet the clip has no poster")
	}
	s.deleteMedia(clip.URL)
	for p := range files(t, remote, "main") {
		if strings.Contains(p, clip.SHA256) {
			t.Errorf("after the video's delete the branch still holds %s", p)
		}
	}
	if out, errOut, ok := s.command("fsck"); !ok {
		t.Errorf("fsck after records and a delete:\n%s%s", out, errOut)
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
