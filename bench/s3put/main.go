// Command s3put times one upload of a file to an S3 server and prints its
// wall time and the process's peak RSS, either through objstore.Put
// (-mode spano) or through a minimal plain minio-go PutObject, the
// baseline: -mode plain signs every 64 KiB chunk, as minio-go does over
// http://; -mode plain-unsigned sends the payload unsigned, as minio-go
// does over https:// and objstore does always. bench/s3-put.sh runs them
// against versitygw.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"spano/objstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "s3put:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "spano", "spano | plain | plain-unsigned")
	file := flag.String("file", "", "file to upload")
	addr := flag.String("addr", "127.0.0.1:7070", "S3 server host:port (http, loopback)")
	bucket := flag.String("bucket", "spano-bench", "bucket")
	sum := flag.String("sha256", "", "spano: the file's SHA-256, as the spool has it (computed, untimed, if empty)")
	flag.Parse()
	ak, sk := os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")
	ctx := context.Background()
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var elapsed time.Duration
	switch *mode {
	case "plain", "plain-unsigned":
		c, err := minio.New(*addr, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1"})
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = c.PutObject(ctx, *bucket, fmt.Sprintf("plain/%d.mp4", time.Now().UnixNano()), f, fi.Size(),
			minio.PutObjectOptions{ContentType: "video/mp4", DisableContentSha256: *mode == "plain-unsigned"})
		elapsed = time.Since(start)
		if err != nil {
			return err
		}
	case "spano":
		// The spool has hashed the file before Put runs.
		if *sum == "" {
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			*sum = hex.EncodeToString(h.Sum(nil))
		}
		obj := objstore.Object{SHA256: *sum, Ext: "mp4", Size: fi.Size(), ContentType: "video/mp4"}
		s, err := objstore.New(objstore.Options{
			Endpoint: "http://" + *addr, Region: "us-east-1", Bucket: *bucket, Prefix: "media",
			Depth: 2, Width: 2, AccessKey: ak, SecretKey: sk, PublicURL: "https://media.example.com",
		})
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := s.Put(ctx, obj, *file)
		elapsed = time.Since(start)
		if err != nil {
			return err
		}
		if !res.Uploaded {
			return fmt.Errorf("%s was already stored: remove it first", res.Key)
		}
	default:
		return fmt.Errorf("mode %q: want spano, plain or plain-unsigned", *mode)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("%s\t%.2fs wall\t%.2fs cpu\t%s peak RSS\n", *mode, elapsed.Seconds(), cpu.Seconds(), peakRSS())
	return nil
}

// peakRSS is VmHWM from /proc/self/status.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
