package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// mp4Bytes is n bytes that the hashstore sniffs as an MP4 video: large
// files without an image decode.
func mp4Bytes(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	for i := 32; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// TestBodyTokenRules is SPEC.md's rule through the whole handler: a body
// token before the file lets any size in, one after it only 1 MB, and a
// larger file from an unidentified client gets 401 before it is sent.
func TestBodyTokenRules(t *testing.T) {
	e := newEnv(t, envOptions{spool: &SpoolOptions{}})
	big := mp4Bytes(3 << 20)
	tests := []struct {
		name       string
		parts      []part
		wantStatus int
		wantCode   string
	}{
		{name: "token before a 3 MB file", wantStatus: http.StatusCreated,
			parts: []part{{name: "access_token", content: []byte(goodToken)}, {name: "file", filename: "v.mp4", content: big}}},
		{name: "token after a small file", wantStatus: http.StatusCreated,
			parts: []part{{name: "file", filename: "a.png", content: makeTinyPNG(t, 3)}, {name: "access_token", content: []byte(goodToken)}}},
		{name: "bad token after a small file", wantStatus: http.StatusUnauthorized, wantCode: codeInvalidToken,
			parts: []part{{name: "file", filename: "b.png", content: makeTinyPNG(t, 4)}, {name: "access_token", content: []byte("nope")}}},
		{name: "bad token before a 3 MB file", wantStatus: http.StatusUnauthorized, wantCode: codeInvalidToken,
			parts: []part{{name: "access_token", content: []byte("nope")}, {name: "file", filename: "v.mp4", content: big}}},
		{name: "token after a 3 MB file", wantStatus: http.StatusUnauthorized, wantCode: codeUnauthorized,
			parts: []part{{name: "file", filename: "v.mp4", content: mp4Bytes(3<<20 + 1)}, {name: "access_token", content: []byte(goodToken)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.parts...)
			resp := e.post("", body, ct)
			if tt.wantStatus == http.StatusCreated {
				if resp.StatusCode != tt.wantStatus {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				resp.Body.Close()
				return
			}
			eb := wantError(t, resp, tt.wantStatus, tt.wantCode)
			if tt.wantCode == codeUnauthorized && !strings.Contains(eb.Description, "Authorization header") {
				t.Errorf("description %q", eb.Description)
			}
		})
	}
	if left := spooled(t, e); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

// TestUnidentifiedAnsweredAtOnce is issue 15's row: 20 unauthenticated
// 45 MB uploads left 901 MB in the spool while connected. The 401 now
// comes after 1 MB, while the client still holds the rest of its file.
func TestUnidentifiedAnsweredAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{spool: &SpoolOptions{}})
	pr, pw := io.Pipe()
	answered := make(chan struct{})
	head, ct := multipartBody(t, part{name: "file", filename: "v.mp4", content: mp4Bytes(2 << 20)})
	go func() {
		defer pw.Close()
		if _, err := pw.Write(head[:len(head)-100]); err != nil { // all but the end of the form
			return
		}
		<-answered // the rest is never needed
	}()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/micropub/media", pr)
	req.Header.Set("Content-Type", ct)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		done <- resp
	}()
	select {
	case resp := <-done:
		close(answered)
		if resp != nil {
			wantError(t, resp, http.StatusUnauthorized, codeUnauthorized)
		}
	case <-time.After(10 * time.Second):
		close(answered)
		t.Fatal("no answer while the client held the rest of its file")
	}
	if left := spooled(t, e); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

func TestSpoolLimits(t *testing.T) {
	t.Run("every slot taken: 503 with Retry-After, then 201", func(t *testing.T) {
		e := newEnv(t, envOptions{spool: &SpoolOptions{Spools: 1}})
		release, ok := e.spooler.identified.TryAcquire()
		if !ok {
			t.Fatal("the one slot is taken before any upload")
		}
		resp := e.upload(goodToken, "a.png", makeTinyPNG(t, 5))
		wantError(t, resp, http.StatusServiceUnavailable, codeUnavailable)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		release()
		resp = e.upload(goodToken, "a.png", makeTinyPNG(t, 5))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("after release: %d", resp.StatusCode)
		}
	})
	t.Run("anonymous spools have a pool of their own", func(t *testing.T) {
		e := newEnv(t, envOptions{spool: &SpoolOptions{UnidentifiedSpools: 1}})
		if _, ok := e.spooler.unidentified.TryAcquire(); !ok {
			t.Fatal("the unidentified slot is taken")
		}
		body, ct := multipartBody(t, part{name: "file", filename: "a.png", content: makeTinyPNG(t, 6)}, part{name: "access_token", content: []byte(goodToken)})
		wantError(t, e.post("", body, ct), http.StatusServiceUnavailable, codeUnavailable)
		resp := e.upload(goodToken, "a.png", makeTinyPNG(t, 6))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("a header-token upload while anonymous ones are full: %d", resp.StatusCode)
		}
	})
	t.Run("below the free-space floor: 507", func(t *testing.T) {
		e := newEnv(t, envOptions{spool: &SpoolOptions{DataDir: "placeholder"}})
		e.spooler.dataDir = e.data
		e.spooler.minFree = 1 << 62 // more than any disk: this one is "full"
		wantError(t, e.upload(goodToken, "a.png", makeTinyPNG(t, 7)), http.StatusInsufficientStorage, codeInsufficientStorage)
		e.spooler.minFree = 1 << 20
		resp := e.upload(goodToken, "a.png", makeTinyPNG(t, 7))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("with room: %d", resp.StatusCode)
		}
	})
}
