package gpsstrip

import (
	"bytes"
)

// locationWords mark an XMP property as location data when its local name
// contains one of them, in any case: exif:GPS*, the IPTC Extension's
// GPSLatitude/GPSLongitude/GPSAltitude inside LocationCreated and
// LocationShown, drones' and apps' own Latitude/Longitude/Altitude.
var locationWords = [][]byte{[]byte("gps"), []byte("latitude"), []byte("longitude"), []byte("altitude")}

// locationNames mark an XMP property as location data when its local name
// is one of them, in any case: the W3C Basic Geo vocabulary (geo:lat,
// geo:long, geo:alt, and geo:lat_long), which some tools write into XMP.
// Place names (photoshop:City, State, Country, Iptc4xmpCore:Location) are
// kept: a person typed them, as they would a caption, while coordinates
// are written by the camera without asking.
var locationNames = [][]byte{[]byte("lat"), []byte("long"), []byte("lon"), []byte("alt"), []byte("lat_long")}

// quickWords is what scrubXMP looks for before it parses anything.
var quickWords = append(append([][]byte{}, locationWords...), []byte("lat"), []byte("lon"), []byte("alt"))

// residualWords must not survive scrubbing; if they do, the XML was too
// broken to find their extent and the block is refused.
var residualWords = [][]byte{[]byte("gpslatitude"), []byte("gpslongitude")}

// scrubXMP overwrites with spaces, in place, every XMP property in b whose
// local name marks it as location data: attributes (name="value") and
// elements (<name …>…</name> or <name …/>). b may be an XMP packet, a part
// of one, or any metadata block holding one; bytes outside XML markup are
// skipped, so binary data passes through untouched.
//
// In broken XML, blanking a property can join what came before it and
// what came after it into a new tag ("<a<gps/>gps=”" becomes "<a gps=”"),
// so scrubbing repeats until a pass blanks nothing; markup that still
// changes after maxScrubPasses is refused.
func scrubXMP(b []byte) error {
	if !containsAnyFold(b, quickWords) {
		return nil
	}
	for pass := 1; ; pass++ {
		spaces := bytes.Count(b, []byte(" ")) // blanking only ever adds spaces
		if err := scrubPass(b); err != nil {
			return err
		}
		if bytes.Count(b, []byte(" ")) == spaces {
			break
		}
		if pass == maxScrubPasses {
			return malformed("xmp: location properties left after %d passes", pass)
		}
	}
	if containsAnyFold(b, residualWords) {
		return malformed("xmp: location property left after scrubbing")
	}
	return nil
}

// maxScrubPasses bounds the passes of scrubXMP: well-formed XMP needs one
// (and a second to see that nothing is left).
const maxScrubPasses = 4

// scrubPass is one pass of scrubXMP over b.
func scrubPass(b []byte) error {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(b, i+4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(b, i+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(b, i+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")), bytes.HasPrefix(rest, []byte("</")):
			i = skipPast(b, i+2, ">")
		default:
			next, err := scrubStartTag(b, i)
			if err != nil {
				return err
			}
			i = next
		}
	}
	return nil
}

// scrubStartTag handles the tag opening at b[i] == '<': it blanks location
// attributes, and the whole element when its own name is a location name.
// It returns where scanning continues.
func scrubStartTag(b []byte, i int) (int, error) {
	name, p := readName(b, i+1)
	if len(name) == 0 {
		return i + 1, nil
	}
	for {
		p = skipSpace(b, p)
		if p >= len(b) {
			return len(b), nil // truncated tag: its attributes are checked below as residue
		}
		if b[p] == '>' || bytes.HasPrefix(b[p:], []byte("/>")) {
			break
		}
		attr, q := readName(b, p)
		if len(attr) == 0 {
			return p, nil // not XML after all; rescan from here
		}
		q = skipSpace(b, q)
		if q >= len(b) || b[q] != '=' {
			return q, nil
		}
		q = skipSpace(b, q+1)
		if q >= len(b) || (b[q] != '"' && b[q] != '\'') {
			return q, nil
		}
		end := bytes.IndexByte(b[q+1:], b[q])
		if end < 0 {
			return len(b), nil
		}
		end += q + 2
		if isLocationName(attr) && !isNamespaceDecl(attr) {
			blank(b[p:end])
		}
		p = end
	}
	selfClosing := b[p] == '/'
	tagEnd := p + 1
	if selfClosing {
		tagEnd = p + 2
	}
	if !isLocationName(name) {
		return tagEnd, nil
	}
	if selfClosing {
		blank(b[i:tagEnd])
		return tagEnd, nil
	}
	end, ok := closeTag(b, tagEnd, name)
	if !ok {
		return 0, malformed("xmp: unterminated %s", name)
	}
	blank(b[i:end])
	return end, nil
}

// closeTag finds the end of the close tag matching an element named name
// whose content starts at p, counting nested elements of the same name.
func closeTag(b []byte, p int, name []byte) (int, bool) {
	depth := 1
	for p < len(b) {
		j := bytes.IndexByte(b[p:], '<')
		if j < 0 {
			return 0, false
		}
		p += j
		closing := p+1 < len(b) && b[p+1] == '/'
		start := p + 1
		if closing {
			start++
		}
		n, q := readName(b, start)
		if !bytes.Equal(n, name) {
			p++
			continue
		}
		gt := bytes.IndexByte(b[q:], '>')
		if gt < 0 {
			return 0, false
		}
		q += gt + 1
		switch {
		case closing:
			depth--
			if depth == 0 {
				return q, true
			}
		case b[q-2] != '/':
			depth++
		}
		p = q
	}
	return 0, false
}

// readName reads an XML (qualified) name at p.
func readName(b []byte, p int) ([]byte, int) {
	s := p
	for p < len(b) {
		c := b[p]
		if c == ':' || c == '_' || c == '-' || c == '.' || c >= 0x80 ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || ('0' <= c && c <= '9' && p > s) {
			p++
			continue
		}
		break
	}
	return b[s:p], p
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// skipPast returns the index just after the first sep at or after p, or
// len(b) when there is none.
func skipPast(b []byte, p int, sep string) int {
	if p > len(b) {
		return len(b)
	}
	j := bytes.Index(b[p:], []byte(sep))
	if j < 0 {
		return len(b)
	}
	return p + j + len(sep)
}

// isLocationName reports whether the local part of a qualified name marks
// location data.
func isLocationName(qname []byte) bool {
	local := qname
	if k := bytes.LastIndexByte(qname, ':'); k >= 0 {
		local = qname[k+1:]
	}
	if containsAnyFold(local, locationWords) {
		return true
	}
	for _, n := range locationNames {
		if bytes.EqualFold(local, n) {
			return true
		}
	}
	return false
}

// isNamespaceDecl reports xmlns and xmlns:prefix attributes, which must
// stay even when the prefix happens to read like a location word.
func isNamespaceDecl(attr []byte) bool {
	return bytes.Equal(attr, []byte("xmlns")) || bytes.HasPrefix(attr, []byte("xmlns:"))
}

func blank(b []byte) {
	for i := range b {
		b[i] = ' '
	}
}

// containsAnyFold reports whether b contains one of the lower-case ASCII
// words, ignoring ASCII case.
func containsAnyFold(b []byte, words [][]byte) bool {
	for i := range b {
		c := b[i] | 0x20
		for _, w := range words {
			if c == w[0] && hasPrefixFold(b[i:], w) {
				return true
			}
		}
	}
	return false
}

func hasPrefixFold(b, lower []byte) bool {
	if len(b) < len(lower) {
		return false
	}
	for k, c := range lower {
		if b[k]|0x20 != c {
			return false
		}
	}
	return true
}
