package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"spano/hashstore"
	"spano/index"
	"spano/indieauth"
	"spano/record"
	"spano/repo"
)

// seedUploads writes a bare repository holding n uploads as spano commits
// them (an original, two thumbnails, trailers; one commit each), with git
// fast-import, and returns it with the URL of one upload in the middle.
func seedUploads(b *testing.B, n int) (string, string) {
	b.Helper()
	dir := b.TempDir()
	bare := filepath.Join(dir, "site.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v\n%s", err, out)
	}
	var in strings.Builder
	var middle string
	for i := range n {
		content := fmt.Sprintf("photo %d\n", i)
		sum := sha256.Sum256([]byte(content))
		h := hex.EncodeToString(sum[:])
		dir := "media/" + h[:2] + "/" + h[2:4] + "/"
		if i == n/2 {
			middle = siteURL + "/" + dir + h + ".jpg"
		}
		msg := fmt.Sprintf("Add %s.jpg (IMG_%d.jpg)\n\nMedia-SHA256: %s\nMedia-Type: image/jpeg\nMedia-Size: %d\nMedia-Width: 4000\nMedia-Height: 3000\nMedia-Client: https://quill.p3k.io/\nMedia-Filename: IMG_%d.jpg\n",
			h[:12], i, h, len(content), i)
		when := 1700000000 + i
		fmt.Fprintf(&in, "commit refs/heads/main\nauthor spano <spano@localhost> %d +0000\ncommitter spano <spano@localhost> %d +0000\ndata %d\n%s", when, when, len(msg), msg)
		fmt.Fprintf(&in, "M 100644 inline %s%s.jpg\ndata %d\n%s\n", dir, h, len(content), content)
		for _, w := range []int{320, 640} {
			fmt.Fprintf(&in, "M 100644 inline %s%s-%dw.jpg\ndata 6\nthumb\n\n", dir, h, w)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	return bare, middle
}

// BenchmarkQuerySource measures queries through the whole handler
// (router, CORS, access log, token check, index, JSON) on a site with
// 10,000 uploads, and reports the median and 90th percentile.
func BenchmarkQuerySource(b *testing.B) {
	bare, middle := seedUploads(b, 10000)
	r, err := repo.Open(context.Background(), repo.Options{Path: bare, Push: repo.PushOff})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	store, err := hashstore.New(hashstore.Options{TempDir: b.TempDir(), MaxSize: 1 << 20, MediaDir: "media", Depth: 2, Width: 2})
	if err != nil {
		b.Fatal(err)
	}
	x := index.New(index.Options{Store: store, MediaDir: "media"})
	if err := x.Load(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	verifier, err := indieauth.New(context.Background(), indieauth.Options{
		Me: siteURL + "/", Static: []indieauth.StaticToken{{SHA256: digest(goodToken), Scope: "media"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{
		Verifier: verifier, Repo: r, Layout: record.Layout{Store: store, SiteURL: siteURL + "/media"}, Index: x,
		BaseURL: "https://media.example.com", EndpointPath: "/micropub/media",
		MediaURLPath: "/media", MaxSize: 1 << 20, Scopes: []string{"media"},
	})
	for _, q := range []struct{ name, query string }{
		{"limit=20", "q=source&limit=20"},
		{"offset=9000", "q=source&limit=20&offset=9000"},
		{"mime_type=video", "q=source&mime_type=video"},
		{"url", "q=source&url=" + url.QueryEscape(middle)},
		{"last", "q=last"},
	} {
		b.Run(q.name, func(b *testing.B) {
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest(http.MethodGet, "/micropub/media?"+q.query, nil)
				req.Header.Set("Authorization", "Bearer "+goodToken)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, req)
				d = append(d, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(d[len(d)*9/10].Microseconds())/1000, "p90-ms")
		})
	}
}
