package ui_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"spano/hashstore"
	"spano/index"
	"spano/indieauth"
	"spano/ingest"
	"spano/internal/authtest"
	"spano/internal/safebuf"
	"spano/internal/testphoto"
	"spano/record"
	"spano/repo"
	"spano/server"
	"spano/thumbs"
	"spano/ui"
)

// Tokens the library's verifier accepts as static tokens.
const (
	ownerToken = "owner-token-media-delete"
	mediaOnly  = "token-media-only"
)

// library is a running spano (the real server, a real repository with
// push off, hashstore, index and thumbnails) with the media library page
// at /, signing in against an owner's site with an IndieAuth server.
type library struct {
	srv   *httptest.Server
	owner *authtest.Server
	repo  *repo.Repo
	logs  *safebuf.Buffer
}

func newLibrary(t *testing.T) *library {
	t.Helper()
	dir := t.TempDir()
	l := &library{owner: authtest.New(t), logs: &safebuf.Buffer{}}
	log := slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + l.srv.Listener.Addr().String()

	ro := repo.Options{Path: filepath.Join(dir, "site.git"), Branch: "main", Push: repo.PushOff,
		AuthorName: "spano", AuthorEmail: "spano@localhost", Logger: log}
	store, err := hashstore.New(hashstore.Options{TempDir: filepath.Join(dir, "tmp"), MaxSize: 5 << 20,
		Types: []string{"image/jpeg", "image/png", "video/mp4", "audio/mpeg"}, MediaDir: "media", Depth: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	idx := index.New(index.Options{Store: store, MediaDir: "media", Logger: log})
	ro.Notify = idx.Apply
	r, err := repo.Open(context.Background(), ro)
	if err != nil {
		t.Fatal(err)
	}
	l.repo = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	if err := idx.Load(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp", "thumbs"), 0o700); err != nil {
		t.Fatal(err)
	}
	maker, err := thumbs.New(thumbs.Options{Widths: []int{160, 320}, MaxPixels: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := indieauth.New(context.Background(), indieauth.Options{Me: l.owner.URL, Logger: log, Static: []indieauth.StaticToken{
		{SHA256: digest(ownerToken), Scope: "media delete"}, {SHA256: digest(mediaOnly), Scope: "media"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	signIn, err := indieauth.NewSignIn(indieauth.SignInOptions{Me: l.owner.URL, ClientID: ui.ClientID(base),
		RedirectURI: ui.CallbackURL(base, "/")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ui.LoadKey(filepath.Join(dir, "ui-session-key"))
	if err != nil {
		t.Fatal(err)
	}
	siteURL := "https://example.com" // the site has not deployed: only spano serves the files
	page, err := ui.New(ui.Options{Path: "/", BaseURL: base, EndpointPath: "/micropub/media",
		SiteMediaURL: siteURL + "/media/", Me: l.owner.URL, Key: key, Verifier: verifier, SignIn: signIn,
		Scopes: []string{"media", "create"}, OwnerScopes: []string{"media", "create", "delete"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	layout := record.Layout{Store: store, SiteURL: siteURL + "/media", DataDir: "_data"}
	pipeline, err := ingest.New(ingest.Options{Store: store, Repo: r, Layout: layout, Images: maker, Index: idx,
		StripGPS: true, Records: true, TempDir: filepath.Join(dir, "tmp", "thumbs"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l.srv.Config.Handler = server.New(server.Options{
		Verifier: verifier, Repo: r, Pipeline: pipeline, Layout: layout, Index: idx,
		BaseURL: base, EndpointPath: "/micropub/media", MediaURLPath: "/media",
		MaxSize: 5 << 20, Scopes: []string{"media", "create"}, DeleteScopes: []string{"delete"},
		CORSOrigins: []string{"*"}, Logger: log,
		Session: page, UI: page, UIPath: "/", UIMediaPath: ui.MediaPath("/"),
	})
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", l.logs)
		}
	})
	return l
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// photo is a real JPEG of w×h whose pixels depend on seed.
func photo(t *testing.T, w, h, seed int) []byte {
	t.Helper()
	img := testphoto.Paint(w, h)
	for i := 0; i < len(img.Pix); i += 4 * 97 {
		img.Pix[i] = byte(seed * 37)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// onBranch reports whether the branch holds path.
func (l *library) onBranch(t *testing.T, path string) bool {
	t.Helper()
	_, err := l.repo.Stat(context.Background(), path)
	return err == nil
}

var _ http.Handler = (*ui.Page)(nil)
