package server

import (
	"bytes"
	"io"
)

// maxBoundary is the longest multipart boundary accepted. RFC 2046 says
// 70; a little more room costs nothing.
const maxBoundary = 200

// validBoundary accepts boundaries of printable ASCII, as every real
// client sends. A boundary with a line break could hide part headers from
// headerGuard.
func validBoundary(b string) bool {
	if b == "" || len(b) > maxBoundary || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] < 0x20 || b[i] > 0x7e {
			return false
		}
	}
	return true
}

// headerGuard wraps a multipart body and fails it as soon as one part's
// header block passes max bytes, before mime/multipart has buffered it
// (it would hold up to 10 MB of one in memory, and has no option to hold
// less).
//
// It counts from every "\n--boundary" (or a boundary at the start of the
// stream or of a part's body, which mime/multipart accepts too) to the
// blank line that ends the header block, so it sees at least every
// header block the parser sees. A close delimiter ("--boundary--") ends
// the counting. A preamble before the first delimiter, which no real
// client sends, is held to max bytes too. File bytes are skipped a line at a time, so a large
// upload costs one IndexByte per line break.
type headerGuard struct {
	r     io.Reader
	delim []byte // "\n--" + boundary; '\n' occurs only at its start
	max   int
	err   error

	started bool // the first delimiter was seen
	pre     int  // bytes before it: a preamble, which real clients never send
	match   int  // bytes of delim matched so far
	inHead  bool // between a delimiter and the blank line after it
	n       int  // bytes of the current header block
	dashes  int  // "-" right after the delimiter: 2 marks the close delimiter
	prev    [2]byte
}

func newHeaderGuard(r io.Reader, boundary string, max int) *headerGuard {
	// The stream's start counts as a line start.
	return &headerGuard{r: r, delim: []byte("\n--" + boundary), max: max, match: 1}
}

func (g *headerGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if g.scan(p[:n]) {
		g.err = errPartHeaderTooLarge
		return 0, g.err
	}
	return n, err
}

// scan advances the guard over b and reports whether a header block grew
// too large.
func (g *headerGuard) scan(b []byte) bool {
	for i := 0; i < len(b); {
		if !g.started {
			if g.pre++; g.pre > g.max {
				return true
			}
		}
		if g.inHead {
			if g.head(b[i]) {
				return true
			}
			i++
			continue
		}
		if g.match == 0 && g.started {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return false
			}
			i += j
		}
		c := b[i]
		i++
		switch {
		case c == g.delim[g.match]:
			g.match++
		case c == '\n':
			g.match = 1
		default:
			g.match = 0
		}
		if g.match == len(g.delim) {
			g.started = true
			g.match, g.inHead, g.n, g.dashes, g.prev = 0, true, 0, 0, [2]byte{}
		}
	}
	return false
}

// head takes one byte of a header block and reports whether the block is
// over the cap.
func (g *headerGuard) head(c byte) bool {
	g.n++
	if g.n > g.max {
		return true
	}
	if g.n <= 2 && c == '-' {
		if g.dashes++; g.dashes == 2 {
			g.inHead = false // close delimiter: what follows is epilogue
			return false
		}
	}
	blank := c == '\n' && (g.prev[1] == '\n' || g.prev[0] == '\n' && g.prev[1] == '\r')
	g.prev = [2]byte{g.prev[1], c}
	if blank {
		// The part's body starts; a delimiter may follow at once.
		g.inHead, g.match = false, 1
	}
	return false
}
