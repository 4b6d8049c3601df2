//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/internal/gittest"
	"spano/internal/s3test"
	"spano/objstore"
)

// s3Spano is a spano storing to srv: files of 20 MB or more and videos go
// to the bucket, media.max_size 200MB.
func s3Spano(t *testing.T, name, remote string, srv *s3test.Server) *spano {
	t.Helper()
	return newSpano(t, name, options{remote: remote, widths: []int{320}, maxSize: "200MB", s3: srv})
}

// objectKey is the bucket key of an offloaded upload's URL.
func objectKey(t testing.TB, u string) string {
	t.Helper()
	rel, ok := strings.CutPrefix(u, s3PublicURL+"/")
	if !ok {
		t.Fatalf("URL %q is not under storage.s3.public_url %s", u, s3PublicURL)
	}
	return "media/" + rel
}

// checkObject fails unless the bucket holds f at key, as spano must store
// it, read back with a plain client.
func checkObject(t *testing.T, srv *s3test.Server, key, contentType string, f bigFile) {
	t.Helper()
	ctx := context.Background()
	info, err := srv.Client.StatObject(ctx, srv.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	if info.Size != f.size || info.ContentType != contentType {
		t.Errorf("%s: size %d type %q, want %d %q", key, info.Size, info.ContentType, f.size, contentType)
	}
	if got := info.Metadata.Get("Cache-Control"); got != objstore.CacheControl {
		t.Errorf("%s: Cache-Control %q, want %q", key, got, objstore.CacheControl)
	}
	if got := info.Metadata.Get("X-Amz-Meta-Sha256"); got != f.sha256 {
		t.Errorf("%s: sha256 metadata %q, want %s", key, got, f.sha256)
	}
	obj, err := srv.Client.GetObject(ctx, srv.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.size || sum != f.sha256 {
		t.Errorf("%s holds %d bytes hashing to %s, want %d %s", key, n, sum, f.size, f.sha256)
	}
}

// notInGit fails if the repository at dir holds any of files as a blob,
// or any blob as big as the smallest of them.
func notInGit(t *testing.T, dir string, files ...bigFile) {
	t.Helper()
	objs := allObjects(t, dir)
	for _, f := range files {
		if _, ok := objs[f.gitSHA]; ok {
			t.Errorf("%s holds blob %s: the offloaded file %s", dir, f.gitSHA, f.sha256[:12])
		}
		for id, o := range objs {
			if o.kind == "blob" && o.size >= f.size {
				t.Errorf("%s holds blob %s of %d bytes, as big as the offloaded %s", dir, id, o.size, f.sha256[:12])
			}
		}
	}
}

// TestObjectStorage is issue 12's path through the binary against a real
// S3 server: big media offloaded (bytes, type, cache header and checksum
// as a plain client reads them), never in git, small media in git,
// duplicates, q=source, delete, and fsck before and after the bucket is
// tampered with.
func TestObjectStorage(t *testing.T) {
	srv := s3test.Start(t)
	remote := gittest.NewRemote(t, nil)
	s := s3Spano(t, "s3", remote, srv)
	s.start()
	dir := t.TempDir()

	vid := writeVideo(t, dir, "big.mp4", 120<<20, 1)
	photo := writeNoisePNG(t, dir, "big.png", 2900, 2900, 2)
	if photo.size < 25_000_000 {
		t.Fatalf("photo of %d bytes, want 25 MB", photo.size)
	}
	clip := writeVideo(t, dir, "clip.mp4", 1<<20, 3) // a video: offloaded by type
	small := pngImage(4)

	before := commits(t, remote, "main")
	start := time.Now()
	upVid := s.mustUploadFile("holiday.mp4", vid)
	t.Logf("120 MB video: 201 after %s", time.Since(start).Round(time.Millisecond))
	upPhoto := s.mustUploadFile("panorama.png", photo)
	upClip := s.mustUploadFile("clip.mp4", clip)
	upSmall := s.mustUpload("small.png", small)
	if got := commits(t, remote, "main"); got != before+4 {
		t.Fatalf("remote has %d new commits, want 4 (one per upload)", got-before)
	}

	for _, c := range []struct {
		up   uploaded
		f    bigFile
		ext  string
		kind string
	}{{upVid, vid, "mp4", "video/mp4"}, {upPhoto, photo, "png", "image/png"}, {upClip, clip, "mp4", "video/mp4"}} {
		want := s3PublicURL + "/" + c.f.sha256[:2] + "/" + c.f.sha256[2:4] + "/" + c.f.sha256 + "." + c.ext
		if c.up.Storage != "s3" || c.up.URL != want || c.up.Type != c.kind || !c.up.Pushed {
			t.Errorf("201 storage %q url %q type %q pushed %v, want s3 %s %s pushed", c.up.Storage, c.up.URL, c.up.Type, c.up.Pushed, want, c.kind)
		}
		checkObject(t, srv, objectKey(t, c.up.URL), c.kind, c.f)
		if files(t, remote, "main")["media/"+c.f.sha256[:2]+"/"+c.f.sha256[2:4]+"/"+c.f.sha256+"."+c.ext] {
			t.Errorf("offloaded %s is on the remote's branch", c.f.sha256[:12])
		}
		if rec := "_data/spano/" + c.f.sha256[:2] + "/" + c.f.sha256[2:4] + "/" + c.f.sha256 + ".json"; !files(t, remote, "main")[rec] {
			t.Errorf("the remote lacks the record %s", rec)
		}
	}
	// A photo's thumbnails stay in the repository.
	if len(upPhoto.Thumbnails) != 1 || !strings.HasPrefix(upPhoto.Thumbnails[0].URL, siteURL+"/media/") ||
		!files(t, remote, "main")[repoPath(t, "media", upPhoto.Thumbnails[0].URL)] {
		t.Errorf("offloaded photo's thumbnails %+v: want one, in the repository", upPhoto.Thumbnails)
	}
	notInGit(t, remote, vid, photo)
	notInGit(t, s.repo, vid, photo)
	if upSmall.Storage != "repo" || !files(t, remote, "main")[repoPath(t, "media", upSmall.URL)] {
		t.Errorf("small photo: storage %q, on the branch %v; want it in git", upSmall.Storage, files(t, remote, "main")[repoPath(t, "media", upSmall.URL)])
	}

	// Duplicates: the same answer, no new commit, no second object.
	head := commits(t, remote, "main")
	for _, c := range []struct {
		up uploaded
		f  bigFile
	}{{upVid, vid}, {upPhoto, photo}} {
		again := s.mustUploadFile("again", c.f)
		if !again.Duplicate || again.URL != c.up.URL || again.Storage != "s3" {
			t.Errorf("re-upload: duplicate %v url %q storage %q, want true %s s3", again.Duplicate, again.URL, again.Storage, c.up.URL)
		}
	}
	if again := s.mustUpload("small-again.png", small); !again.Duplicate || again.URL != upSmall.URL {
		t.Errorf("re-upload of the small photo: duplicate %v url %q", again.Duplicate, again.URL)
	}
	if got := commits(t, remote, "main"); got != head {
		t.Errorf("duplicates made %d commits", got-head)
	}

	// q=source says where each is.
	var src struct {
		Items []struct {
			URL     string `json:"url"`
			Storage string `json:"storage"`
			Size    int64  `json:"size"`
		} `json:"items"`
	}
	s.get("q=source&limit=10", &src)
	storage := map[string]string{}
	for _, it := range src.Items {
		storage[it.URL] = it.Storage
	}
	for u, want := range map[string]string{upVid.URL: "s3", upPhoto.URL: "s3", upClip.URL: "s3", upSmall.URL: "repo"} {
		if storage[u] != want {
			t.Errorf("q=source storage of %s = %q, want %q (items %+v)", u, storage[u], want, src.Items)
		}
	}

	if out, errOut, ok := s.command("fsck"); !ok || !strings.Contains(out, "3 offloaded objects: 0 problems") {
		t.Errorf("fsck of a sound site failed:\n%s%s", out, errOut)
	}

	// Delete: the record goes in one commit; the object stays.
	head = commits(t, remote, "main")
	s.deleteMedia(upVid.URL)
	if got := commits(t, remote, "main"); got != head+1 {
		t.Errorf("delete made %d commits, want 1", got-head)
	}
	if files(t, remote, "main")["_data/spano/"+vid.sha256[:2]+"/"+vid.sha256[2:4]+"/"+vid.sha256+".json"] {
		t.Errorf("the deleted video's record is still on the branch")
	}
	checkObject(t, srv, objectKey(t, upVid.URL), "video/mp4", vid)
	out, errOut, ok := s.command("fsck")
	if !ok || !strings.Contains(out, objectKey(t, upVid.URL)+": object no record names") {
		t.Errorf("fsck after a delete: want success, the deleted video's object listed as an orphan:\n%s%s", out, errOut)
	}

	tamperObjects(t, s, srv, upPhoto, upClip, photo)
}

// tamperObjects damages the bucket behind spano's back, as a person with
// the bucket's keys could, and checks that fsck finds each damage.
func tamperObjects(t *testing.T, s *spano, srv *s3test.Server, upPhoto, upClip uploaded, photo bigFile) {
	ctx := context.Background()
	key := objectKey(t, upPhoto.URL)
	other := make([]byte, photo.size)
	rand.NewChaCha8([32]byte{42}).Read(other)
	put := func(meta map[string]string) {
		t.Helper()
		_, err := srv.Client.PutObject(ctx, srv.Bucket, key, bytes.NewReader(other), int64(len(other)),
			minio.PutObjectOptions{ContentType: "image/png", UserMetadata: meta})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Same size and the original's hash in the metadata: only the deep
	// check, which downloads, can tell.
	put(map[string]string{objstore.MetaSHA256: photo.sha256})
	if out, errOut, ok := s.command("fsck"); !ok {
		t.Errorf("fsck (size and metadata) failed on an object whose size and metadata are right:\n%s%s", out, errOut)
	}
	if out, _, ok := s.command("fsck", "-deep"); ok || !strings.Contains(out, key) || !strings.Contains(out, "sha256 of its bytes") {
		t.Errorf("fsck -deep passed an object with other bytes:\n%s", out)
	}
	// Other bytes without the metadata: both see it.
	put(nil)
	for _, args := range [][]string{{"fsck"}, {"fsck", "-deep"}} {
		if out, _, ok := s.command(args...); ok || !strings.Contains(out, key+": ") || !strings.Contains(out, "does not match") {
			t.Errorf("spano %v passed an overwritten object:\n%s", args, out)
		}
	}
	// A missing object.
	if err := srv.Client.RemoveObject(ctx, srv.Bucket, objectKey(t, upClip.URL), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"fsck"}, {"fsck", "-deep"}} {
		if out, _, ok := s.command(args...); ok || !strings.Contains(out, objectKey(t, upClip.URL)+": object missing") {
			t.Errorf("spano %v passed a missing object:\n%s", args, out)
		}
	}
}

// TestObjectStorageOutage stops the S3 server before an offloaded
// upload: 503 with Retry-After and nothing committed; once it is back,
// the same upload succeeds.
func TestObjectStorageOutage(t *testing.T) {
	srv := s3test.Start(t)
	remote := gittest.NewRemote(t, nil)
	s := s3Spano(t, "s3-outage", remote, srv)
	s.start()
	clip := writeVideo(t, t.TempDir(), "clip.mp4", 3<<20, 5)

	local, before := gittest.Git(t, s.repo, "rev-parse", "main"), gittest.Git(t, remote, "rev-parse", "main")
	srv.Stop()
	r, err := s.uploadFile(context.Background(), "clip.mp4", clip.path)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.retryAfter == "" || !bytes.Contains(r.body, []byte("temporarily_unavailable")) {
		t.Errorf("upload with the bucket down: %d Retry-After %q %s; want 503 with Retry-After", r.status, r.retryAfter, r.body)
	}
	if got := gittest.Git(t, s.repo, "rev-parse", "main"); got != local {
		t.Errorf("spano committed %s with the bucket down", got)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != before {
		t.Errorf("the remote moved to %s with the bucket down", got)
	}
	if left := s.tmpFiles(); len(left) > 0 {
		t.Errorf("temp files left after the refused upload: %v", left)
	}

	srv.Restart()
	up := s.mustUploadFile("clip.mp4", clip)
	if up.Storage != "s3" || up.Duplicate {
		t.Errorf("retry: storage %q duplicate %v, want a new s3 upload", up.Storage, up.Duplicate)
	}
	checkObject(t, srv, objectKey(t, up.URL), "video/mp4", clip)
	if c := mediaCounts(t, remote, "main")[clip.sha256]; c != 1 {
		t.Errorf("remote has %d commits of the clip, want 1", c)
	}
}

// TestObjectStorageTwoSpanos has two spanos on one bucket and one remote
// upload the same video at once: both succeed, with one object in the
// bucket and one commit of it on the remote.
func TestObjectStorageTwoSpanos(t *testing.T) {
	srv := s3test.Start(t)
	remote := gittest.NewRemote(t, nil)
	a, b := s3Spano(t, "s3-a", remote, srv), s3Spano(t, "s3-b", remote, srv)
	a.start()
	b.start()
	clip := writeVideo(t, t.TempDir(), "clip.mp4", 24<<20, 6)

	var wg sync.WaitGroup
	ups := make([]uploaded, 2)
	for i, s := range []*spano{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.uploadFile(context.Background(), "clip.mp4", clip.path)
			if err != nil || r.status != http.StatusCreated {
				t.Errorf("%s: %v %d %s", s.name, err, r.status, r.body)
				return
			}
			ups[i] = r.up
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if ups[0].URL != ups[1].URL || ups[0].Storage != "s3" {
		t.Errorf("answers %q (%s) and %q, want one s3 URL", ups[0].URL, ups[0].Storage, ups[1].URL)
	}
	var keys []string
	for o := range srv.Client.ListObjects(context.Background(), srv.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != objectKey(t, ups[0].URL) {
		t.Errorf("bucket holds %v, want the one object %s", keys, objectKey(t, ups[0].URL))
	}
	checkObject(t, srv, keys[0], "video/mp4", clip)
	// Each answer is pushed (sync): the remote has the upload once.
	eventually(t, 30*time.Second, func() string { return missing(t, remote, []string{clip.sha256}) })
	for _, s := range []*spano{a, b} {
		if c := mediaCounts(t, s.repo, "main")[clip.sha256]; c != 1 {
			t.Errorf("%s's branch has %d commits of the clip, want 1", s.name, c)
		}
	}
	linear(t, remote, "main")
	gittest.Fsck(t, remote)
}

// TestMaxFileSizeWithoutStorage: with no object storage, a file at least
// repo.max_file_size is refused with 413, saying how to offload it, and
// never committed.
func TestMaxFileSizeWithoutStorage(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	s := newSpano(t, "max-file", options{remote: remote, maxFile: "1MB", maxSize: "50MB"})
	s.start()
	big := writeNoisePNG(t, t.TempDir(), "big.png", 640, 640, 7) // 1.2 MB
	before := gittest.Git(t, remote, "rev-parse", "main")
	r, err := s.uploadFile(context.Background(), "big.png", big.path)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusRequestEntityTooLarge || !bytes.Contains(r.body, []byte("storage.s3")) {
		t.Errorf("upload over repo.max_file_size: %d %s; want 413 naming storage.s3", r.status, r.body)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != before {
		t.Errorf("the remote moved to %s", got)
	}
	if left := s.tmpFiles(); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	// Under the limit, the same kind of file is stored.
	s.mustUploadFile("ok.png", writeNoisePNG(t, t.TempDir(), "ok.png", 400, 400, 8))
	_ = os.Remove(big.path)
}

// TestObjectStorageKillBeforeCommit kills spano (SIGKILL) the moment the
// offloaded object is complete in the bucket, before its commit can
// follow: the object is an orphan fsck lists, and after a restart the
// client's retry gives one object and one commit. (When the commit wins
// the race anyway, the retry is a duplicate: still one of each.)
func TestObjectStorageKillBeforeCommit(t *testing.T) {
	srv := s3test.Start(t)
	remote := gittest.NewRemote(t, nil)
	s := s3Spano(t, "s3-kill", remote, srv)
	s.start()
	vid := writeVideo(t, t.TempDir(), "big.mp4", 64<<20, 11)
	key := "media/" + vid.sha256[:2] + "/" + vid.sha256[2:4] + "/" + vid.sha256 + ".mp4"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan response, 1)
	go func() {
		r, _ := s.uploadFile(ctx, "big.mp4", vid.path)
		done <- r
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := srv.Client.StatObject(context.Background(), srv.Bucket, key, minio.StatObjectOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the object never appeared")
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.kill()
	r := <-done
	committed := mediaCounts(t, s.repo, "main")[vid.sha256]
	t.Logf("killed after the object: answer %d, commits of it on spano's branch %d", r.status, committed)
	if r.status == http.StatusCreated && committed == 0 {
		t.Fatalf("a 201 for an upload that is not committed")
	}
	if committed == 0 {
		out, _, _ := s.command("fsck")
		if !strings.Contains(out, key+": object no record names") {
			t.Errorf("fsck does not list the orphaned object:\n%s", out)
		}
	}

	from := s.log.Len()
	s.start()
	up := s.mustUploadFile("big.mp4", vid)
	if committed == 0 && !strings.Contains(s.log.String()[from:], `msg="object already stored"`) {
		t.Errorf("the retry sent the object again instead of finding it stored")
	}
	if up.Storage != "s3" {
		t.Errorf("retry: storage %q, want s3", up.Storage)
	}
	eventually(t, 30*time.Second, func() string { return missing(t, remote, []string{vid.sha256}) })
	n := 0
	for o := range srv.Client.ListObjects(context.Background(), srv.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("bucket holds %d objects, want 1", n)
	}
	checkObject(t, srv, key, "video/mp4", vid)
	if out, errOut, ok := s.command("fsck"); !ok || strings.Contains(out, "orphan") {
		t.Errorf("fsck after the retry:\n%s%s", out, errOut)
	}
}
