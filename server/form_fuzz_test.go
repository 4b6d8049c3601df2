package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"spano/hashstore"
	"spano/indieauth"
)

// FuzzForm feeds arbitrary bodies to the capped form reader, as a client
// that has not identified itself. Whatever the body: no panic, every
// failure is a client error that quotes nothing of the body, the token is
// checked before a byte of the file is spooled, and an accepted file is
// the one mime/multipart alone finds in the same body.
func FuzzForm(f *testing.F) {
	f.Add(formBody(formPart{name: "access_token", body: []byte("good")}, formPart{name: "file", filename: "a.jpg", body: jpegBytes(64)}))
	f.Add(formBody(formPart{name: "file", filename: "a.jpg", body: jpegBytes(64)}, formPart{name: "access_token", body: []byte("good")}))
	f.Add(formBody(formPart{name: "file[]", filename: "b.jpg", body: []byte("--" + formBoundary + "x")}))
	f.Add([]byte("--" + formBoundary + "\r\nsecret-token\r\n\r\n--" + formBoundary + "--\r\n"))
	f.Add([]byte("preamble\n--" + formBoundary + "\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\n\n\xff\xd8\xff\n--" + formBoundary + "--\n"))
	f.Add([]byte("--" + formBoundary + "\r\nX: " + strings.Repeat("a", maxPartHeader) + "\r\n\r\n"))
	store, err := hashstore.New(hashstore.Options{
		TempDir: f.TempDir(), MaxSize: 1 << 20, Types: []string{"image/jpeg"}, MediaDir: "media", Depth: 2, Width: 2,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		spooled := false
		form, err := readForm(context.Background(), formRequest(bytes.NewReader(body)), formSource{
			check: func(_ context.Context, token string) error {
				if spooled {
					t.Error("token checked after the file was spooled")
				}
				if token != "good" {
					return indieauth.ErrInvalidToken
				}
				return nil
			},
			spool: func(ctx context.Context, r io.Reader, _ bool) (*hashstore.File, error) {
				spooled = true
				return store.Spool(ctx, r)
			},
		})
		if form.file != nil {
			defer form.file.Remove()
		}
		if err != nil {
			if classify(err) == nil {
				t.Fatalf("unclassified error %v", err)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Fatalf("error %q quotes the body", err)
			}
			return
		}
		if form.file == nil {
			return // a delete form
		}
		want, ok := multipartFile(body)
		if !ok {
			t.Fatal("readForm accepted a file mime/multipart does not find")
		}
		sum := sha256.Sum256(want)
		if got := hex.EncodeToString(sum[:]); got != form.file.SHA256 {
			t.Fatalf("spooled %s, mime/multipart reads %s", form.file.SHA256, got)
		}
	})
}

// multipartFile is the file part's bytes as mime/multipart alone reads
// them.
func multipartFile(body []byte) ([]byte, bool) {
	mr := multipart.NewReader(bytes.NewReader(body), formBoundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, false
		}
		if p.FormName() == "file" || p.FormName() == "file[]" || p.FileName() != "" {
			b, err := io.ReadAll(p)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, false
			}
			return b, true
		}
	}
}
