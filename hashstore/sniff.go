package hashstore

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// types maps each supported MIME type, as sniffed, to the extension of
// the file that is stored for it. It is the whole list: anything else
// (SVG, HTML, text, 3GP, HEIF sequences, …) has no extension here and so
// can never be stored, whatever media.types says.
//
// HEIC and HEIF are converted before they are stored: a spooled HEIC keeps
// its sniffed Type (image/heic), so that the pipeline knows to convert it
// and can name the source in the commit, while its Ext is already that of
// the JPEG that will be stored (see PublishedType).
var types = map[string]string{
	"image/jpeg":      "jpg",
	"image/png":       "png",
	"image/gif":       "gif",
	"image/webp":      "webp",
	"image/avif":      "avif",
	"image/heic":      "jpg",
	"image/heif":      "jpg",
	"video/mp4":       "mp4",
	"video/quicktime": "mov",
	"video/webm":      "webm",
	"audio/mpeg":      "mp3",
	"audio/mp4":       "m4a",
	"audio/ogg":       "ogg",
}

// converted maps the sniffed types that are never stored as they came to
// the type of what is stored instead: HEIC and HEIF, which browsers other
// than Safari cannot show, are published as JPEG.
var converted = map[string]string{
	"image/heic": "image/jpeg",
	"image/heif": "image/jpeg",
}

// exts is the inverse of types over the types that are stored as they
// came, so that "jpg" always means image/jpeg.
var exts = func() map[string]string {
	m := make(map[string]string, len(types))
	for t, e := range types {
		if _, ok := converted[t]; !ok {
			m[e] = t
		}
	}
	return m
}()

// PublishedType returns the MIME type of the file that is stored for
// content of the given sniffed type: image/jpeg for HEIC and HEIF, which
// are converted, and the type itself for everything else.
func PublishedType(mimeType string) string {
	if t, ok := converted[mimeType]; ok {
		return t
	}
	return mimeType
}

// Converted reports whether content of the given sniffed type is
// converted before it is stored (HEIC and HEIF to JPEG).
func Converted(mimeType string) bool {
	_, ok := converted[mimeType]
	return ok
}

// ExtFor returns the extension (without dot) under which content of the
// given supported MIME type is stored.
func ExtFor(mimeType string) (string, bool) {
	e, ok := types[mimeType]
	return e, ok
}

// TypeFor returns the MIME type of a stored file's extension (without
// dot), for serving committed media with its exact Content-Type.
func TypeFor(ext string) (string, bool) {
	t, ok := exts[ext]
	return t, ok
}

// SupportedTypes lists every MIME type spano can sniff, store and name,
// sorted: the one list, which media.types must be a subset of and whose
// default it is.
func SupportedTypes() []string {
	l := make([]string, 0, len(types))
	for t := range types {
		l = append(l, t)
	}
	sort.Strings(l)
	return l
}

// sniff names the content type of a file from its leading bytes, mapped to
// our canonical types where the content is one of them; otherwise it
// returns what mimetype says, for the error message.
func sniff(head []byte) string {
	// mimetype.Detect only looks at its global read limit (4096 unless
	// someone changed it); head is never longer than that by default.
	t := mimetype.Detect(head).String()
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = strings.TrimSpace(t[:i]) // text types carry "; charset=…"
	}
	switch t {
	case "image/apng":
		// An animated PNG is a PNG; browsers show it under image/png.
		return "image/png"
	case "image/heif":
		// mimetype names HEIF by the major brand mif1 alone; AVIF
		// encoders write mif1 too and list avif among the compatible
		// brands.
		return heifType(head)
	case "video/x-m4v":
		// Apple's brand for MP4 video.
		return "video/mp4"
	case "audio/x-m4a":
		// ftyp "M4A ", what iTunes and ffmpeg's ipod muxer write.
		return "audio/mp4"
	case "audio/mpeg":
		// mimetype searches the whole head for an MP3 frame, so text or
		// markup with a stray frame in it passes as MP3. A real MP3 starts
		// with an ID3v2 tag or a frame sync.
		if !mp3Start(head) {
			return "application/octet-stream"
		}
	case "application/ogg", "audio/ogg", "video/ogg":
		// mimetype looks at the first stream only; Vorbis audio followed by
		// a Theora stream is a video.
		return oggType(head)
	}
	return t
}

// heifType classifies a file whose major brand is a generic HEIF one
// (mif1, …) by its compatible brands: image/avif when AV1 is listed and
// HEVC is not, image/heif otherwise.
func heifType(head []byte) string {
	if len(head) < 16 {
		return "image/heif"
	}
	size := int(binary.BigEndian.Uint32(head))
	if size > len(head) || size < 16 {
		size = len(head)
	}
	avif, hevc := false, false
	for b := head[16:size]; len(b) >= 4; b = b[4:] {
		switch string(b[:4]) {
		case "avif", "avis":
			avif = true
		case "heic", "heix", "hevc", "hevx":
			hevc = true
		}
	}
	if avif && !hevc {
		return "image/avif"
	}
	return "image/heif"
}

// mp3Start reports whether b starts like an MP3 file.
func mp3Start(b []byte) bool {
	if bytes.HasPrefix(b, []byte("ID3")) {
		return true
	}
	return len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0
}

// oggType classifies an Ogg file by the beginning-of-stream pages, which
// all come first (RFC 3533): audio/ogg if every logical stream is an audio
// codec, video/ogg if any is video, application/ogg if unknown.
func oggType(head []byte) string {
	audio, other := 0, 0
	truncated := false
	for p := head; ; {
		if len(p) < 27 {
			truncated = true
			break
		}
		if !bytes.HasPrefix(p, []byte("OggS")) || p[4] != 0 || p[5]&0x02 == 0 {
			break // not a BOS page: every stream has been announced
		}
		nseg := int(p[26])
		body := 0
		if len(p) >= 27+nseg {
			for _, l := range p[27 : 27+nseg] {
				body += int(l)
			}
		}
		if len(p) < 27+nseg || len(p) < 27+nseg+body {
			truncated = true
			break
		}
		switch packet := p[27+nseg : 27+nseg+body]; {
		case bytes.HasPrefix(packet, []byte("\x01vorbis")),
			bytes.HasPrefix(packet, []byte("OpusHead")),
			bytes.HasPrefix(packet, []byte("\x7fFLAC")),
			bytes.HasPrefix(packet, []byte("Speex   ")):
			audio++
		case bytes.HasPrefix(packet, []byte("fishead\x00")):
			// Skeleton: an index of the other streams, no content.
		case bytes.HasPrefix(packet, []byte("\x80theora")),
			bytes.HasPrefix(packet, []byte("\x01video\x00")),
			bytes.HasPrefix(packet, []byte("BBCD\x00")), // Dirac
			bytes.HasPrefix(packet, []byte("\x80daala")):
			return "video/ogg"
		default:
			other++
		}
		p = p[27+nseg+body:]
	}
	// A head cut off inside the BOS pages may hide a video stream; a file
	// that simply ends there is whole.
	if truncated && len(head) >= headSize {
		return "application/ogg"
	}
	if audio > 0 && other == 0 {
		return "audio/ogg"
	}
	return "application/ogg"
}

// markupTags are element and declaration names that make a browser (or an
// old sniffing one, or Flash) treat bytes as a document: HTML, SVG, XML
// with stylesheets, cross-domain policies, PHP. Short tags such as <a> and
// <p> are left out because random binary data would hit them too often;
// the list catches every polyglot that carries script.
var markupTags = []string{
	"!doctype", "html", "head", "body", "script", "iframe", "frame", "frameset",
	"object", "embed", "applet", "svg", "math", "?xml", "meta", "link", "style",
	"title", "img", "image", "form", "base", "div", "table", "font", "video", "audio",
	"input", "textarea", "button", "details", "marquee", "template",
	"?xml-stylesheet", "cross-domain-policy", "xsl:stylesheet", "?php",
}

// FindMarkup returns the first markup tag in b (case-insensitive, followed
// by whitespace, '/', '>' or the end of b), or "". XMP packets in images
// (<?xpacket, <x:xmpmeta, <rdf:RDF) do not match. The spool runs it on a
// file's head; package thumbs on every metadata block it reads or writes.
func FindMarkup(b []byte) string {
	for i := 0; i < len(b); i++ {
		if b[i] != '<' {
			continue
		}
		rest := b[i+1:]
		for _, tag := range markupTags {
			if len(rest) < len(tag) || !asciiEqualFold(rest[:len(tag)], tag) {
				continue
			}
			if len(rest) == len(tag) || isTagEnd(rest[len(tag)]) {
				return tag
			}
		}
	}
	return ""
}

// asciiEqualFold compares b with the lowercase ASCII string s, ignoring
// ASCII case (bytes.EqualFold would also fold Unicode, which browsers'
// tag matching does not).
func asciiEqualFold(b []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// isTagEnd reports whether c ends a tag name in HTML's tokenizer.
func isTagEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '/', '>':
		return true
	}
	return false
}
