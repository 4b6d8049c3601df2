// Command thumbsbench measures package thumbs outside go test, so that
// run.sh can put it side by side with sharp on the same file and read a
// clean peak RSS per process.
//
//	thumbsbench -gen photo.jpg                       write the 4000×3000 test photo
//	thumbsbench -time photo.jpg [-runs N]           p50/p90 of Make (320, 640, 1280)
//	thumbsbench -rss photo.jpg [-concurrent 8] [-max-decodes 0]
//	                                                 peak RSS (VmHWM) of concurrent Makes
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"image/jpeg"
	"os"
	"runtime"
	"slices"
	"spano/internal/testphoto"
	"strings"
	"sync"
	"time"

	"spano/thumbs"
)

func main() {
	gen := flag.String("gen", "", "write the test photo to this file")
	timeIt := flag.String("time", "", "time Make on this JPEG")
	rss := flag.String("rss", "", "measure peak RSS of concurrent Makes on this JPEG")
	runs := flag.Int("runs", 20, "timed runs after two warm-ups")
	concurrent := flag.Int("concurrent", 8, "concurrent Make calls for -rss")
	maxDecodes := flag.Int("max-decodes", 0, "Options.MaxDecodes (0: NumCPU)")
	flag.Parse()
	var err error
	switch {
	case *gen != "":
		err = writePhoto(*gen, 4000, 3000)
	case *timeIt != "":
		err = timeMake(*timeIt, *runs)
	case *rss != "":
		err = peakRSS(*rss, *concurrent, *maxDecodes)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "thumbsbench:", err)
		os.Exit(1)
	}
}

func newMaker(maxDecodes int) (*thumbs.Maker, string, error) {
	dir, err := os.MkdirTemp("", "thumbsbench-")
	if err != nil {
		return nil, "", err
	}
	m, err := thumbs.New(thumbs.Options{
		Widths: []int{320, 640, 1280}, Quality: 82, MaxPixels: 50_000_000,
		MaxDecodes: maxDecodes, TempDir: dir,
	})
	return m, dir, err
}

func timeMake(photo string, runs int) error {
	m, dir, err := newMaker(0)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var d []time.Duration
	for i := -2; i < runs; i++ {
		t := time.Now()
		img, err := m.Make(context.Background(), photo, "image/jpeg")
		if err != nil {
			return err
		}
		if i >= 0 {
			d = append(d, time.Since(t))
		}
		for _, th := range img.Thumbnails {
			os.Remove(th.Path)
		}
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	fmt.Printf("thumbs.Make (Go %s, GOMAXPROCS %d): p50 %.1f ms, p90 %.1f ms over %d runs\n",
		runtime.Version(), runtime.GOMAXPROCS(0), q(0.5), q(0.9), runs)
	return nil
}

func peakRSS(photo string, n, maxDecodes int) error {
	m, dir, err := newMaker(maxDecodes)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base, err := vmHWM()
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Make(context.Background(), photo, "image/jpeg"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	peak, err := vmHWM()
	if err != nil {
		return err
	}
	if maxDecodes == 0 {
		maxDecodes = runtime.NumCPU()
	}
	fmt.Printf("%d concurrent Make, MaxDecodes %d: peak RSS %d MiB (%d MiB before), %.0f ms wall\n",
		n, maxDecodes, peak>>10, base>>10, float64(time.Since(start).Milliseconds()))
	return nil
}

// vmHWM reads the process's peak resident set size in KiB.
func vmHWM() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// writePhoto paints a deterministic photo-like image (gradients, fine
// texture, sensor-like noise) and writes it as a quality-90 baseline JPEG,
// about 3.9 MB at 4000×3000: it decodes like a phone photo, not a flat
// test card. internal/testphoto paints it.
func writePhoto(path string, w, h int) error {
	img := testphoto.Paint(w, h)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
