package hashstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFilename bounds a cleaned filename in bytes: long enough for any
// camera or phone name, short enough for a commit subject.
const maxFilename = 200

// CleanFilename makes a client's filename safe to put in a commit subject
// and a Media-Filename trailer. The name is only informative, so it is
// reduced rather than refused: the base name after the last '/' or '\',
// invalid UTF-8 replaced by U+FFFD, line breaks and tabs turned into
// spaces (a newline would let a client forge trailers), other control and
// invisible format characters (bidi overrides) dropped, spaces trimmed, at
// most 200 bytes. "", "." and ".." give "".
func CleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, string(utf8.RuneError))
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' ||
			r == 0x85 || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if len(name) > maxFilename {
		cut := maxFilename
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimSpace(name[:cut])
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}
