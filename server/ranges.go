package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRanges is the most byte ranges one request may ask for. A video
// player asks for one; a PDF reader for a few. RFC 9110 §14.2 lets a
// server ignore a Range of many small or out-of-order ranges, "since
// these are indications of either a broken client or a deliberate
// denial-of-service attack".
const maxRanges = 16

// serveContent answers a GET or HEAD of content (size bytes) with its
// Range header honoured only when http.ServeContent can serve it reading
// forward: a committed blob is inflated as it streams, so each backward
// seek would inflate it again from the start. A Range of more than
// maxRanges ranges, or of ranges that overlap or go backwards, is ignored
// and the whole file sent.
func serveContent(w http.ResponseWriter, r *http.Request, content io.ReadSeeker, size int64) {
	if h := r.Header.Get("Range"); h != "" && !forwardRanges(h, size) {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, content)
}

// forwardRanges reports whether the Range header h, for a file of size
// bytes, is at most maxRanges ranges in ascending order that do not
// overlap. A header it cannot parse counts as forward: http.ServeContent
// answers it 416 without reading the file.
func forwardRanges(h string, size int64) bool {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return true
	}
	if strings.Count(spec, ",") >= maxRanges {
		return false
	}
	next := int64(0) // the first byte the next range may start at
	for _, ra := range strings.Split(spec, ",") {
		ra = strings.TrimSpace(ra)
		if ra == "" {
			continue
		}
		first, last, ok := strings.Cut(ra, "-")
		if !ok {
			return true
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		var start, end int64 // end is inclusive
		if first == "" {
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return true
			}
			start, end = max(size-n, 0), size-1
		} else {
			s, err := strconv.ParseInt(first, 10, 64)
			if err != nil || s < 0 {
				return true
			}
			if s >= size {
				// Unsatisfiable, whatever its end says: http.ServeContent
				// drops it before it looks at the end, so must this.
				continue
			}
			start, end = s, size-1
			if last != "" {
				e, err := strconv.ParseInt(last, 10, 64)
				if err != nil || e < s {
					return true
				}
				end = min(e, size-1)
			}
		}
		if start >= size {
			continue // unsatisfiable: http.ServeContent drops it
		}
		if start < next {
			return false
		}
		next = end + 1
	}
	return true
}
