// Command upload is the upload benchmark of BENCHMARKS.md: it posts
// distinct 400 KB JPEGs to a Micropub media endpoint from N clients for a
// while and prints the latency percentiles and the uploads per second.
// With -floor it is instead the baseline server: a minimal handler that
// only spools the file to disk while hashing it (and syncs it, as a
// durable answer must), the floor any endpoint stands on.
//
//	go run ./bench/upload -floor -listen 127.0.0.1:9100 -dir /tmp/floor
//	go run ./bench/upload -endpoint http://127.0.0.1:9100/ -clients 8 -duration 10s
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/crc32"
	"image/jpeg"
	"image/png"
	"io"
	"log"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"spano/internal/testphoto"
)

func main() {
	floor := flag.Bool("floor", false, "run the baseline server instead of the load")
	listen := flag.String("listen", "127.0.0.1:9100", "floor: listen address")
	dir := flag.String("dir", os.TempDir(), "floor: where files are spooled")
	endpoint := flag.String("endpoint", "", "load: the endpoint URL")
	token := flag.String("token", "", "load: bearer token")
	clients := flag.Int("clients", 1, "load: concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "load: how long")
	size := flag.Int("size", 400_000, "load: approximate JPEG size in bytes")
	asPNG := flag.Bool("png", false, "load: upload PNGs (640x480, flat colours) instead of JPEGs")
	count := flag.Int("count", 0, "load: uploads per client, then stop (0: for -duration)")
	flag.Parse()
	if *floor {
		log.Fatal(serveFloor(*listen, *dir))
	}
	if *endpoint == "" {
		log.Fatal("-endpoint is required")
	}
	l := load{endpoint: *endpoint, token: *token, clients: *clients, d: *duration, count: *count}
	if *asPNG {
		l.base, l.distinct, l.name = flatPNG(*size), distinctPNG, "image.png"
	} else {
		l.base, l.distinct, l.name = photo(*size), distinctJPEG, "photo.jpg"
	}
	l.run()
}

// serveFloor answers each multipart upload after spooling its file part
// to disk, hashing it on the way, and syncing it.
func serveFloor(addr, dir string) error {
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if part.FormName() != "file" {
				continue
			}
			f, err := os.CreateTemp(dir, "floor-*")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h := sha256.New()
			_, err = io.Copy(io.MultiWriter(f, h), part)
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			os.Remove(f.Name())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Location", "/"+hex.EncodeToString(h.Sum(nil)))
			w.WriteHeader(http.StatusCreated)
		}
	}))
}

// photo is a JPEG of about size bytes (the nearest of a few sizes and
// qualities: the painted test photo is noisy, so even quality 60 at
// 1024×768 is ~680 KB); distinct ones differ in a comment segment, so
// every upload is new to a content-addressed store.
func photo(size int) []byte {
	var best []byte
	for _, w := range []int{1024, 800, 640, 480} {
		img := testphoto.Paint(w, w*3/4)
		for q := 30; q <= 95; q += 5 {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
				log.Fatal(err)
			}
			if best == nil || abs(buf.Len()-size) < abs(len(best)-size) {
				best = buf.Bytes()
			}
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// load is what the clients upload, how many of them, for how long.
type load struct {
	endpoint, token string
	clients, count  int // count: uploads per client; 0: until d passed
	d               time.Duration
	base            []byte
	distinct        func(base []byte, n int64) []byte
	name            string
}

func (l load) run() {
	endpoint, token, clients, base := l.endpoint, l.token, l.clients, l.base
	var seq atomic.Int64
	seq.Store(time.Now().UnixNano())
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	deadline := time.Now().Add(l.d)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for i := 0; l.count > 0 && i < l.count || l.count == 0 && time.Now().Before(deadline); i++ {
				body, ct := form(l.name, l.distinct(base, seq.Add(1)))
				req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
				req.Header.Set("Content-Type", ct)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				took := time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusCreated {
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("status %s", resp.Status)
					}
					log.Printf("upload: %v", err)
					continue
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("clients=%d uploads=%d failed=%d size=%d p50=%.1fms p90=%.1fms p99=%.1fms rate=%.1f/s\n",
		clients, len(lat), failed.Load(), len(base), ms(pct(.5)), ms(pct(.9)), ms(pct(.99)), float64(len(lat))/elapsed.Seconds())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func form(name string, content []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", filepath.Base(name))
	fw.Write(content)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func distinctJPEG(base []byte, n int64) []byte {
	return testphoto.WithSegment(base, 0xFE, fmt.Appendf(nil, "upload %d", n))
}

// flatPNG is a 640×480 PNG of about size bytes: the test photo with its
// colours cut to a few levels, the nearest of a few cuts, so that it is
// large enough for thumbnails and small in bytes, as a screenshot is.
func flatPNG(size int) []byte {
	var best []byte
	for _, mask := range []uint8{0xfc, 0xf8, 0xf0, 0xe0, 0xc0, 0x80} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, testphoto.Cut(640, 480, mask)); err != nil {
			log.Fatal(err)
		}
		if best == nil || abs(buf.Len()-size) < abs(len(best)-size) {
			best = buf.Bytes()
		}
	}
	return best
}

// distinctPNG inserts a tEXt chunk right after the IHDR chunk (the
// 8-byte signature, then 4+4+13+4 bytes).
func distinctPNG(base []byte, n int64) []byte {
	data := fmt.Appendf([]byte("Comment\x00"), "upload %d", n)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	const at = 8 + 25
	return slices.Concat(base[:at], chunk, base[at:])
}
