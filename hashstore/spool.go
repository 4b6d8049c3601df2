package hashstore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	// readChunk bounds each Read from the upload; ctx is checked between them.
	readChunk = 64 << 10
	// writeBuffer batches small reads (multipart parts hand out ~4 KiB) into
	// fewer write syscalls. As large as readChunk, so a full read goes to
	// the file directly without a copy through the buffer.
	writeBuffer = readChunk
	// headSize is how much of the start is kept for sniffing and the markup
	// check: mimetype's default read limit, enough for its WebM and MP3
	// searches and for the ID/BOS headers of every type we accept.
	headSize = 4096
	// maxEmptyReads guards against readers that return 0, nil forever.
	maxEmptyReads = 100
)

// File is a spooled upload: checked, hashed, and waiting in TempDir.
type File struct {
	Path   string // absolute temp file path, owned by the caller: Remove when done
	SHA256 string // lowercase hex SHA-256 of the bytes as stored
	Size   int64  // bytes
	Type   string // MIME type sniffed from the content, e.g. "image/jpeg"
	Ext    string // extension for Type, without dot: jpg png gif webp mp4 mov webm mp3 m4a ogg
}

// Spool copies r to a new temp file while hashing it, then checks the
// content: not empty, at most MaxSize bytes, a sniffed type in the
// allowlist, and no markup in the leading bytes. Memory use is bounded by
// a few fixed buffers whatever the size of r. On any error the temp file
// is gone; on success the caller owns it.
func (s *Store) Spool(ctx context.Context, r io.Reader) (f *File, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	tmp, err := os.CreateTemp(s.tempDir, tempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	bw := bufio.NewWriterSize(tmp, writeBuffer)
	w := io.MultiWriter(bw, h)
	buf := make([]byte, readChunk)
	head := make([]byte, 0, headSize)
	var size int64
	for empty := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		// Never ask for more than one byte past the limit: a stream that is
		// too large is refused after MaxSize+1 bytes, not read to its end.
		want := int64(len(buf))
		if rest := s.maxSize + 1 - size; rest < want {
			want = rest
		}
		n, rerr := r.Read(buf[:want])
		if n > 0 {
			empty = 0
			if size+int64(n) > s.maxSize {
				return nil, fmt.Errorf("spool: %w", &SizeError{Limit: s.maxSize})
			}
			if len(head) < headSize {
				head = append(head, buf[:min(n, headSize-len(head))]...)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("spool: write: %w", err)
			}
			size += int64(n)
		} else if rerr == nil {
			if empty++; empty >= maxEmptyReads {
				return nil, fmt.Errorf("spool: %w", &readError{io.ErrNoProgress})
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("spool: %w", &readError{rerr})
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("spool: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("spool: close: %w", err)
	}
	if size == 0 {
		return nil, fmt.Errorf("spool: %w", ErrEmpty)
	}
	typ, ext, err := s.check(head)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &File{
		Path:   tmp.Name(),
		SHA256: hex.EncodeToString(h.Sum(nil)),
		Size:   size,
		Type:   typ,
		Ext:    ext,
	}, nil
}

// check sniffs head and applies the allowlist and the markup rule.
func (s *Store) check(head []byte) (typ, ext string, err error) {
	typ = sniff(head)
	ext, ok := ExtFor(typ)
	if !ok || !s.allowed[typ] {
		return "", "", &TypeError{Type: typ}
	}
	if tag := FindMarkup(head); tag != "" {
		return "", "", &TypeError{Type: typ, Reason: "contains markup (<" + tag + ")"}
	}
	return typ, ext, nil
}

// Rehash recomputes SHA256 and Size from the file on disk, for callers
// that rewrote it in place (GPS stripping): the hash names the bytes as
// stored, so it must follow them.
func (f *File) Rehash() error {
	in, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("rehash: %w", err)
	}
	defer in.Close()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return fmt.Errorf("rehash: %w", err)
	}
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	f.Size = n
	return nil
}

// Remove deletes the temp file. Removing it twice is not an error, so a
// deferred Remove is safe after the file was moved or already removed.
func (f *File) Remove() error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spooled file: %w", err)
	}
	return nil
}
