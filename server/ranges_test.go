package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// rewinds is a ReadSeeker that counts what a git blob would cost: each
// read before the end of the last one means inflating from the start
// again, and every byte read is a byte inflated.
type rewinds struct {
	r       *bytes.Reader
	readEnd int64 // end of the last read
	rewinds int
	read    int64
}

func (c *rewinds) Read(p []byte) (int, error) {
	pos, _ := c.r.Seek(0, io.SeekCurrent)
	if pos < c.readEnd {
		c.rewinds++
	}
	n, err := c.r.Read(p)
	c.readEnd = pos + int64(n)
	c.read += int64(n)
	return n, err
}

func (c *rewinds) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

func descendingRanges(n int) string {
	var b strings.Builder
	b.WriteString("bytes=")
	for i := n - 1; i >= 0; i-- {
		if i != n-1 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%d-%d", i, i)
	}
	return b.String()
}

func TestServeContentRanges(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 4000) // 40,000 bytes
	tests := []struct {
		name       string
		rng        string
		wantStatus int
		wantParts  int // 206 multipart parts; 0: not multipart
	}{
		{name: "no range", wantStatus: 200},
		{name: "one range", rng: "bytes=10-19", wantStatus: 206},
		{name: "suffix", rng: "bytes=-100", wantStatus: 206},
		{name: "two ascending", rng: "bytes=0-9, 100-199", wantStatus: 206, wantParts: 2},
		{name: "at the cap", rng: "bytes=" + ascending(maxRanges), wantStatus: 206, wantParts: maxRanges},
		{name: "over the cap", rng: "bytes=" + ascending(maxRanges+1), wantStatus: 200},
		{name: "2,000 descending 1-byte ranges", rng: descendingRanges(2000), wantStatus: 200},
		{name: "two descending", rng: "bytes=100-199,0-9", wantStatus: 200},
		{name: "overlapping", rng: "bytes=0-99,50-149", wantStatus: 200},
		{name: "suffix before a range", rng: "bytes=-10,0-5", wantStatus: 200},
		{name: "unsatisfiable", rng: "bytes=50000-", wantStatus: 416},
		{name: "malformed", rng: "bytes=x-y", wantStatus: 416},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &rewinds{r: bytes.NewReader(content)}
			r := httptest.NewRequest(http.MethodGet, "/media/x", nil)
			if tt.rng != "" {
				r.Header.Set("Range", tt.rng)
			}
			w := httptest.NewRecorder()
			w.Header().Set("Content-Type", "image/jpeg") // as serveMedia sets it: no sniffing read
			serveContent(w, r, c, int64(len(content)))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if c.rewinds > 0 || c.read > int64(len(content)) {
				t.Errorf("%d rewinds, %d bytes read of %d", c.rewinds, c.read, len(content))
			}
			if tt.wantStatus == 200 && w.Body.Len() != len(content) {
				t.Errorf("200 with %d bytes, want the whole file", w.Body.Len())
			}
			if got := strings.Count(w.Body.String(), "Content-Range:"); tt.wantParts > 0 && got != tt.wantParts {
				t.Errorf("%d parts, want %d", got, tt.wantParts)
			}
		})
	}
}

// ascending is n one-byte ranges in ascending order.
func ascending(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%d-%d", i*10, i*10)
	}
	return strings.Join(parts, ",")
}

// FuzzRange: whatever the Range header, serving never reads the blob
// backwards nor more than once over, and a 206 holds the bytes asked for.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=0-1,3-4", "bytes=3-4,0-1",
		"bytes=0-0,0-0", descendingRanges(20), "bytes= 1 - 2 , 4-", "bytes=999-", "items=0-1", "bytes=-0"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, rng string, size int64) {
		if size < 0 || size > 1<<16 {
			return
		}
		content := bytes.Repeat([]byte{'a'}, int(size))
		for i := range content {
			content[i] = byte(i)
		}
		c := &rewinds{r: bytes.NewReader(content)}
		r := httptest.NewRequest(http.MethodGet, "/media/x", nil)
		r.Header.Set("Range", rng)
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", "image/jpeg")
		serveContent(w, r, c, size)
		if c.rewinds > 0 || c.read > size {
			t.Fatalf("Range %q on %d bytes: %d rewinds, %d bytes read", rng, size, c.rewinds, c.read)
		}
		if w.Code == http.StatusPartialContent && !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/") {
			var first, last, total int64
			if _, err := fmt.Sscanf(w.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil {
				t.Fatalf("Content-Range %q: %v", w.Header().Get("Content-Range"), err)
			}
			if !bytes.Equal(w.Body.Bytes(), content[first:last+1]) {
				t.Fatalf("Range %q: body is not bytes %d-%d", rng, first, last)
			}
		}
	})
}
