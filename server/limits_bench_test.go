package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"spano/hashstore"
	"spano/netlimit"
)

// BenchmarkUploadLimits measures what the limits of issue 15 cost a
// normal upload: a 5 MB file POSTed over loopback to a real http.Server
// whose handler reads the form and spools the file. "before" is the
// plain server and mime/multipart; "after" is netlimit's listener,
// server and deadlines, the capped form reader and the Spooler with its
// free-space check. It reports the median upload of each and their
// ratio.
func BenchmarkUploadLimits(b *testing.B) {
	store, err := hashstore.New(hashstore.Options{
		TempDir: filepath.Join(b.TempDir(), "tmp"), MaxSize: 8 << 20,
		Types: []string{"image/jpeg"}, MediaDir: "media", Depth: 2, Width: 2,
	})
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "a.jpg")
	w.Write(jpegBytes(5 << 20))
	mw.Close()
	ct := mw.FormDataContentType()

	before := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			if p.FormName() == "file" {
				f, err := store.Spool(r.Context(), p)
				if err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				f.Remove()
			}
		}
		w.WriteHeader(http.StatusCreated)
	})
	sp := NewSpooler(store.Spool, SpoolOptions{DataDir: b.TempDir(), MinFree: 1 << 20})
	after := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, err := readForm(r.Context(), r, formSource{authorized: true, spool: sp.Spool,
			check: func(context.Context, string) error { return nil }})
		if form.file != nil {
			form.file.Remove()
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})

	// Both servers run side by side and each iteration uploads to both,
	// in alternating order, so the noise of a shared machine falls on
	// both alike.
	urls := []string{
		serveBench(b, &http.Server{Handler: before, ReadHeaderTimeout: 10 * time.Second}, nil),
		serveBench(b, netlimit.NewServer(after, netlimit.Options{}), func(l net.Listener) net.Listener {
			return netlimit.Listener(l, netlimit.Options{})
		}),
	}
	client := &http.Client{}
	times := [2][]time.Duration{}
	b.SetBytes(2 * int64(body.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range 2 {
			which := (i + k) % 2
			start := time.Now()
			resp, err := client.Post(urls[which], ct, bytes.NewReader(body.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Fatalf("status %d", resp.StatusCode)
			}
			times[which] = append(times[which], time.Since(start))
		}
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / 1e6
	}
	pb, pa := p50(times[0]), p50(times[1])
	b.ReportMetric(pb, "before-p50-ms")
	b.ReportMetric(pa, "after-p50-ms")
	b.ReportMetric(pa/pb, "after/before")
}

// serveBench serves srv on a loopback listener, wrapped by wrap when
// not nil, until the benchmark ends, and returns its URL.
func serveBench(b *testing.B, srv *http.Server, wrap func(net.Listener) net.Listener) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	if wrap != nil {
		ln = wrap(ln)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return url
}
