// Command thumbsbench measures package thumbs outside go test, so that
// run.sh can put it side by side with sharp on the same file and read a
// clean peak RSS per process.
//
//	thumbsbench -gen photo.jpg                       write the 4000×3000 test photo
//	thumbsbench -time photo.jpg [-runs N] [-formats same]
//	                                                 p50/p90 of Make (320, 640, 1280)
//	thumbsbench -decode photo.jpg [-runs N]         p50 of image/jpeg.Decode alone (the floor)
//	thumbsbench -gen-png small.png                   write the photo at 1280×960 as PNG
//	thumbsbench -encode small.png -format webp|avif [-runs N]
//	                                                 p50 of gen2brain's encoder alone
//	thumbsbench -rss photo.jpg [-concurrent 8] [-max-decodes 0] [-decode-memory 0]
//	                                                 peak RSS (VmHWM) of concurrent Makes
package main

import (
	"bufio"
	"bytes"
	"image/png"
	"io"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"

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
	"syscall"
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
	decodeMemory := flag.Int64("decode-memory", 0, "Options.DecodeMemory in bytes (0: the default)")
	genPNG := flag.String("gen-png", "", "write the test photo at 1280×960 as PNG to this file")
	encode := flag.String("encode", "", "time gen2brain's -format encoder on this PNG")
	format := flag.String("format", "webp", "encoder for -encode: webp or avif")
	decodeOnly := flag.String("decode", "", "time image/jpeg.Decode alone on this JPEG")
	formatList := flag.String("formats", "same", "Options.Formats, comma-separated")
	widthList := flag.String("widths", "320,640,1280", "Options.Widths, comma-separated")
	flag.Parse()
	var err error
	switch {
	case *gen != "":
		err = writePhoto(*gen, 4000, 3000)
	case *genPNG != "":
		err = writePNG(*genPNG, 1280, 960)
	case *encode != "":
		err = timeEncode(*encode, *format, *runs)
	case *timeIt != "":
		err = timeMake(*timeIt, *runs, opts(*widthList, *formatList, 0, 0))
	case *decodeOnly != "":
		err = timeDecode(*decodeOnly, *runs)
	case *rss != "":
		err = peakRSS(*rss, *concurrent, opts(*widthList, *formatList, *maxDecodes, *decodeMemory))
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "thumbsbench:", err)
		os.Exit(1)
	}
}

// opts builds the Options a run measures.
func opts(widths, formats string, maxDecodes int, decodeMemory int64) thumbs.Options {
	var ws []int
	for _, w := range strings.Split(widths, ",") {
		var n int
		fmt.Sscan(w, &n)
		ws = append(ws, n)
	}
	return thumbs.Options{
		Widths: ws, Formats: strings.Split(formats, ","), Quality: 82, MaxPixels: 50_000_000,
		MaxDecodes: maxDecodes, DecodeMemory: decodeMemory,
	}
}

// cpu is the CPU time (user and system) this process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// quantiles times f runs times after two warm-ups, and prints the CPU
// time per run: on a shared machine it is steadier than the wall clock.
func quantiles(runs int, f func() error) (p50, p90 float64, err error) {
	var d []time.Duration
	var c0 time.Duration
	defer func() { fmt.Printf("  cpu %.1f ms/run; ", float64((cpu()-c0).Microseconds())/1000/float64(runs)) }()
	for i := -2; i < runs; i++ {
		if i == 0 {
			c0 = cpu()
		}
		t := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		if i >= 0 {
			d = append(d, time.Since(t))
		}
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	return q(0.5), q(0.9), nil
}

func timeMake(photo string, runs int, o thumbs.Options) error {
	m, err := thumbs.New(o)
	if err != nil {
		return err
	}
	p50, p90, err := quantiles(runs, func() error {
		_, err := m.Make(context.Background(), photo, "image/jpeg")
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("thumbs.Make %v %v (Go %s, GOMAXPROCS %d): p50 %.1f ms, p90 %.1f ms over %d runs\n",
		o.Widths, o.Formats, runtime.Version(), runtime.GOMAXPROCS(0), p50, p90, runs)
	return nil
}

func timeDecode(photo string, runs int) error {
	data, err := os.ReadFile(photo)
	if err != nil {
		return err
	}
	p50, p90, err := quantiles(runs, func() error {
		_, err := jpeg.Decode(bytes.NewReader(data))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("image/jpeg.Decode alone: p50 %.1f ms, p90 %.1f ms over %d runs\n", p50, p90, runs)
	return nil
}

func peakRSS(photo string, n int, o thumbs.Options) error {
	m, err := thumbs.New(o)
	if err != nil {
		return err
	}
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
	fmt.Printf("%d concurrent Make of %s, MaxDecodes %d, DecodeMemory %d MiB (0: defaults): peak RSS %d MiB (%d MiB before), %.0f ms wall\n",
		n, photo, o.MaxDecodes, o.DecodeMemory>>20, peak>>10, base>>10, float64(time.Since(start).Milliseconds()))
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

func writePNG(path string, w, h int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, testphoto.Paint(w, h)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// timeEncode times the encoder thumbs uses for format, with the settings
// it uses (WebP quality 82, AVIF quality 60 at speed 10).
func timeEncode(path, format string, runs int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	enc := func(w io.Writer) error {
		return webp.Encode(w, img, webp.Options{Quality: 82, Method: webp.DefaultMethod})
	}
	dyn := webp.Dynamic()
	if format == "avif" {
		enc = func(w io.Writer) error {
			return avif.Encode(w, img, avif.Options{Quality: avif.DefaultQuality, QualityAlpha: avif.DefaultQuality, Speed: 10})
		}
		dyn = avif.Dynamic()
	}
	var size int
	p50, p90, err := quantiles(runs, func() error {
		var buf bytes.Buffer
		err := enc(&buf)
		size = buf.Len()
		return err
	})
	if err != nil {
		return err
	}
	how := "WASM (wazero)"
	if dyn == nil {
		how = "system library"
	}
	fmt.Printf("gen2brain %s encode of %v, %s: p50 %.1f ms, p90 %.1f ms over %d runs, %d bytes\n",
		format, img.Bounds().Size(), how, p50, p90, runs, size)
	return nil
}
