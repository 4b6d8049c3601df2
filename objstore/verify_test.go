package objstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"spano/internal/s3test"
)

// overwrite replaces an object behind spano's back with the plain client.
func overwrite(t *testing.T, srv *s3test.Server, key string, data []byte, meta map[string]string) {
	t.Helper()
	_, err := srv.Client.PutObject(context.Background(), srv.Bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "video/mp4", UserMetadata: meta})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s := newStore(t, testOptions(srv))
	tests := []struct {
		name string
		// damage changes the stored object of obj; nil leaves it.
		damage      func(t *testing.T, key string, obj Object)
		wantShallow error
		wantDeep    error
	}{
		{name: "intact"},
		{
			name: "deleted",
			damage: func(t *testing.T, key string, obj Object) {
				if err := srv.Client.RemoveObject(ctx, srv.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			wantShallow: ErrNotFound, wantDeep: ErrNotFound,
		},
		{
			name: "other bytes, no metadata",
			damage: func(t *testing.T, key string, obj Object) {
				overwrite(t, srv, key, bytes.Repeat([]byte{1}, int(obj.Size)), nil)
			},
			wantShallow: ErrMismatch, wantDeep: ErrMismatch,
		},
		{
			name: "truncated with its metadata kept",
			damage: func(t *testing.T, key string, obj Object) {
				overwrite(t, srv, key, make([]byte, obj.Size-1), map[string]string{MetaSHA256: obj.SHA256})
			},
			wantShallow: ErrMismatch, wantDeep: ErrMismatch,
		},
		{
			// Bit rot under right metadata: only the deep check sees it.
			name: "same size, other bytes, right metadata",
			damage: func(t *testing.T, key string, obj Object) {
				overwrite(t, srv, key, make([]byte, obj.Size), map[string]string{MetaSHA256: obj.SHA256})
			},
			wantShallow: nil, wantDeep: ErrMismatch,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, obj := writeFile(t, 6<<20+int64(i), uint64(100+i), "video/mp4", "mp4")
			if _, err := s.Put(ctx, obj, path); err != nil {
				t.Fatal(err)
			}
			key := s.Key(obj.SHA256, obj.Ext)
			if tt.damage != nil {
				tt.damage(t, key, obj)
			}
			if err := s.Verify(ctx, obj, false); !errors.Is(err, tt.wantShallow) || (tt.wantShallow == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.wantShallow)
			}
			err := s.Verify(ctx, obj, true)
			if !errors.Is(err, tt.wantDeep) || (tt.wantDeep == nil) != (err == nil) {
				t.Errorf("Verify deep = %v, want %v", err, tt.wantDeep)
			}
			var me *MismatchError
			if errors.As(err, &me) && me.Key != key {
				t.Errorf("mismatch names %q, want %q", me.Key, key)
			}

			// Put repairs a damaged object and says so; Verify then passes.
			res, err := s.Put(ctx, obj, path)
			if err != nil {
				t.Fatal(err)
			}
			if replaced := errors.Is(tt.wantShallow, ErrMismatch); (res.Replaced != nil) != replaced || res.Uploaded != (tt.wantShallow != nil) {
				t.Errorf("Put after damage = %+v", res)
			}
			if tt.wantShallow == nil && tt.wantDeep != nil {
				// Put trusts right metadata: deep fsck is the only cure.
				return
			}
			if err := s.Verify(ctx, obj, true); err != nil {
				t.Errorf("Verify deep after Put: %v", err)
			}
		})
	}
}

func TestList(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s := newStore(t, testOptions(srv))
	want := map[string]Entry{}
	for i, typ := range []string{"image/jpeg", "video/mp4"} {
		ext := map[string]string{"image/jpeg": "jpg", "video/mp4": "mp4"}[typ]
		path, obj := writeFile(t, 1000+int64(i), uint64(200+i), typ, ext)
		res, err := s.Put(ctx, obj, path)
		if err != nil {
			t.Fatal(err)
		}
		want[res.Key] = Entry{Key: res.Key, Size: obj.Size, SHA256: obj.SHA256, Ext: ext}
	}
	// Objects that are not Put's: reported with no hash, or not at all
	// when outside the prefix.
	foreign := []string{
		"media/readme.txt",
		"media/ab/cd/" + "abcd" + string(bytes.Repeat([]byte("0"), 60)) + ".exe",
		"media/00/00/" + "abcd" + string(bytes.Repeat([]byte("0"), 60)) + ".jpg", // shards do not match
	}
	for _, k := range foreign {
		overwrite(t, srv, k, []byte("x"), nil)
		want[k] = Entry{Key: k, Size: 1}
	}
	overwrite(t, srv, "other/readme.txt", []byte("x"), nil)
	overwrite(t, srv, "mediaextra/readme.txt", []byte("x"), nil)

	got := map[string]Entry{}
	for e, err := range s.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.LastModified.IsZero() {
			t.Errorf("%s: no LastModified", e.Key)
		}
		e.LastModified = want[e.Key].LastModified
		got[e.Key] = e
	}
	if len(got) != len(want) {
		t.Errorf("List gave %d objects, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("List: %s = %+v, want %+v", k, got[k], w)
		}
	}

	srv.Stop()
	n := 0
	for _, err := range s.List(ctx) {
		n++
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("List with the server down: %v, want ErrUnavailable", err)
		}
	}
	if n != 1 {
		t.Errorf("List with the server down yielded %d times, want one error", n)
	}
}

// TestListResumes drops the connection of one list request in the
// middle of a listing: List resumes after the last key it gave, so fsck
// sees every object once.
func TestListResumes(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	c := newCounter()
	opts := testOptions(srv)
	opts.Transport = c
	s := newStore(t, opts)
	s.listPage = 2
	var want []string
	for i := range 7 {
		path, obj := writeFile(t, 100, uint64(300+i), "image/png", "png")
		res, err := s.Put(ctx, obj, path)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.Key)
	}
	slices.Sort(want)
	lists := 0
	c.mu.Lock()
	c.fail = func(kind string) error {
		if kind != "list" {
			return nil
		}
		if lists++; lists == 3 {
			return syscall.ECONNRESET
		}
		return nil
	}
	c.mu.Unlock()
	var got []string
	for e, err := range s.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List = %q,\nwant %q", got, want)
	}
	if lists < 5 {
		t.Errorf("%d list requests: the failure was not in the middle", lists)
	}
}
