package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"spano/hashstore"
	"spano/indieauth"
)

const formBoundary = "spano-test-boundary-7f3a"

// jpegBytes is n bytes that the hashstore sniffs as a JPEG.
func jpegBytes(n int) []byte {
	b := make([]byte, n)
	copy(b, "\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	return b
}

// formPart is one part of a test body.
type formPart struct {
	name, filename string
	body           []byte
}

func formBody(parts ...formPart) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q", formBoundary, p.name)
		if p.filename != "" {
			fmt.Fprintf(&b, "; filename=%q\r\nContent-Type: image/jpeg", p.filename)
		}
		b.WriteString("\r\n\r\n")
		b.Write(p.body)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", formBoundary)
	return b.Bytes()
}

// countingReader counts the bytes the form reader took from the body.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func formRequest(body io.Reader) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/micropub/media", body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary="+formBoundary)
	return r
}

// formStore is a real hashstore taking files up to 8 MB.
func formStore(t *testing.T) *hashstore.Store {
	t.Helper()
	store, err := hashstore.New(hashstore.Options{
		TempDir: filepath.Join(t.TempDir(), "tmp"), MaxSize: 8 << 20,
		Types: []string{"image/jpeg"}, MediaDir: "media", Depth: 2, Width: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// TestReadFormIdentity is SPEC.md's rule: no work for a client that has
// not identified itself. Each case records how much of the body was read
// when the token was checked and when the reader gave up.
func TestReadFormIdentity(t *testing.T) {
	const good = "good-token"
	big := jpegBytes(5 << 20)
	small := jpegBytes(MaxUnidentifiedFile)
	tests := []struct {
		name       string
		authorized bool
		parts      []formPart
		wantStatus int // 0: success
		wantCode   string
		wantToken  string
		wantCheck  bool  // check was called
		maxRead    int64 // the reader read at most this much of the body
	}{
		{name: "header token, big file", authorized: true,
			parts: []formPart{{name: "file", filename: "a.jpg", body: big}}, maxRead: 6 << 20},
		{name: "good token before big file", wantToken: good, wantCheck: true,
			parts: []formPart{{name: "access_token", body: []byte(good)}, {name: "file", filename: "a.jpg", body: big}}, maxRead: 6 << 20},
		{name: "bad token before big file is refused before the file is read", wantCheck: true,
			parts:      []formPart{{name: "access_token", body: []byte("bad")}, {name: "file", filename: "a.jpg", body: big}},
			wantStatus: http.StatusUnauthorized, wantCode: codeInvalidToken, maxRead: 64 << 10},
		{name: "no token before big file: 401 after 1 MB",
			parts:      []formPart{{name: "file", filename: "a.jpg", body: big}, {name: "access_token", body: []byte(good)}},
			wantStatus: http.StatusUnauthorized, wantCode: codeUnauthorized, maxRead: MaxUnidentifiedFile + 64<<10},
		{name: "token after a 1 MB file is accepted", wantToken: good,
			parts: []formPart{{name: "file", filename: "a.jpg", body: small}, {name: "access_token", body: []byte(good)}}, maxRead: 2 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := formStore(t)
			body := &countingReader{r: bytes.NewReader(formBody(tt.parts...))}
			checked := false
			form, err := readForm(context.Background(), formRequest(body), formSource{
				authorized: tt.authorized,
				check: func(_ context.Context, token string) error {
					checked = true
					if body.n > 64<<10 {
						t.Errorf("token checked after %d bytes of the body", body.n)
					}
					if token != good {
						return fmt.Errorf("check: %w", indieauth.ErrInvalidToken)
					}
					return nil
				},
				spool: func(ctx context.Context, r io.Reader, identified bool) (*hashstore.File, error) {
					if got, want := identified, tt.authorized || tt.wantCheck; got != want {
						t.Errorf("spool identified = %v, want %v", got, want)
					}
					return store.Spool(ctx, r)
				},
			})
			if form.file != nil {
				defer form.file.Remove()
			}
			if checked != tt.wantCheck {
				t.Errorf("check called = %v, want %v", checked, tt.wantCheck)
			}
			if body.n > tt.maxRead {
				t.Errorf("read %d bytes of the body, want at most %d", body.n, tt.maxRead)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("readForm: %v", err)
				}
				if form.file == nil || form.token != tt.wantToken || form.tokenChecked != tt.wantCheck {
					t.Errorf("form = file %v, token %q, checked %v", form.file != nil, form.token, form.tokenChecked)
				}
				return
			}
			e := classify(err)
			if e == nil || e.Status != tt.wantStatus || e.Code != tt.wantCode {
				t.Fatalf("err = %v, want %d %s", err, tt.wantStatus, tt.wantCode)
			}
			if tt.wantCode == codeUnauthorized && !strings.Contains(e.Description, "Authorization header") {
				t.Errorf("description %q does not say where to send the token", e.Description)
			}
		})
	}
}

// endlessHeader is a part whose header line never ends: mime/multipart
// alone would buffer 10 MB of it.
type endlessHeader struct{ sent int64 }

func (e *endlessHeader) Read(p []byte) (int, error) {
	if e.sent == 0 {
		n := copy(p, "--"+formBoundary+"\r\nContent-Disposition: form-data; name=\"x\"; filename=\"")
		e.sent += int64(n)
		return n, nil
	}
	for i := range p {
		p[i] = 'a'
	}
	e.sent += int64(len(p))
	return len(p), nil
}

func TestReadFormCaps(t *testing.T) {
	field := func(name string, n int) formPart { return formPart{name: name, body: bytes.Repeat([]byte("x"), n)} }
	file := formPart{name: "file", filename: "a.jpg", body: jpegBytes(1000)}
	many := []formPart{}
	for i := 0; i < maxParts; i++ {
		many = append(many, field(fmt.Sprint("f", i), 1))
	}
	tests := []struct {
		name     string
		body     io.Reader
		wantDesc string // "" : success
	}{
		{name: "a 9 MB part header", body: io.LimitReader(&endlessHeader{}, 9<<20), wantDesc: "part header is larger"},
		{name: "a 9 MB preamble", body: io.MultiReader(strings.NewReader(strings.Repeat("preamble line\r\n", 9<<20/15)), bytes.NewReader(formBody(file))), wantDesc: "part header is larger"},
		{name: "a short preamble", body: io.MultiReader(strings.NewReader("This is a multi-part message.\r\n"), bytes.NewReader(formBody(file)))},
		{name: "a part header at the cap", body: bytes.NewReader(formBody(formPart{name: strings.Repeat("n", maxPartHeader-200), body: []byte("v")}, file))},
		{name: "too many parts", body: bytes.NewReader(formBody(append(many, file)...)), wantDesc: "more than 32 parts"},
		{name: "fields too large", body: bytes.NewReader(formBody(field("a", 40<<10), field("b", 40<<10), file)), wantDesc: "fields hold more than"},
		{name: "token field too long", body: bytes.NewReader(formBody(field("access_token", maxTokenField+1), file)), wantDesc: "access_token field is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := formStore(t)
			body := &countingReader{r: tt.body}
			form, err := readForm(context.Background(), formRequest(body), formSource{authorized: true,
				spool: func(ctx context.Context, r io.Reader, _ bool) (*hashstore.File, error) { return store.Spool(ctx, r) }})
			if form.file != nil {
				defer form.file.Remove()
			}
			if tt.wantDesc == "" {
				if err != nil {
					t.Fatalf("readForm: %v", err)
				}
				return
			}
			e := classify(err)
			if e == nil || e.Status != http.StatusBadRequest || !strings.Contains(e.Description, tt.wantDesc) {
				t.Fatalf("err = %v, want 400 saying %q", err, tt.wantDesc)
			}
			if body.n > 256<<10 {
				t.Errorf("read %d bytes before refusing", body.n)
			}
		})
	}
}

// TestReadFormNeverQuotesTheBody: mime/multipart's errors quote the bad
// line, which may be a token sent where a header was expected.
func TestReadFormNeverQuotesTheBody(t *testing.T) {
	const secret = "tok_very_secret_value"
	bodies := map[string]string{
		"header without colon": "--" + formBoundary + "\r\n" + secret + "\r\n\r\nx\r\n--" + formBoundary + "--\r\n",
		"junk after a part":    "--" + formBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--" + formBoundary + "junk" + secret + "\r\n",
	}
	for name, b := range bodies {
		t.Run(name, func(t *testing.T) {
			_, err := readForm(context.Background(), formRequest(strings.NewReader(b)), formSource{authorized: true,
				spool: func(context.Context, io.Reader, bool) (*hashstore.File, error) {
					return nil, errors.New("no file expected")
				}})
			if err == nil {
				t.Fatal("malformed body accepted")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the body", err)
			}
			if e := classify(err); e == nil || e.Status != http.StatusBadRequest {
				t.Errorf("err = %v, want 400", err)
			}
		})
	}
}
