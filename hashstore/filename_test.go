package hashstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanFilename(t *testing.T) {
	long := strings.Repeat("a", 300) + ".jpg"
	// 99 two-byte runes then a three-byte one straddling byte 200.
	straddle := strings.Repeat("é", 99) + "€€.jpg"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"plain", "IMG_1234.JPG", "IMG_1234.JPG"},
		{"spaces kept inside", "  holiday photo 1.jpg  ", "holiday photo 1.jpg"},
		{"unicode kept", "Café – 日本.jpg", "Café – 日本.jpg"},
		{"unix path", "../../etc/passwd", "passwd"},
		{"windows path", `C:\x\y.jpg`, "y.jpg"},
		{"mixed separators", `a/b\c/d.png`, "d.png"},
		{"trailing slash", "dir/", ""},
		{"dot", ".", ""},
		{"dot-dot", "..", ""},
		{"dot-dot after path", "a/..", ""},
		{"dot-dot hidden by a control char", "a/.\x00.", ""},
		{"trailer injection", "x.jpg\nMedia-SHA256: 0000", "x.jpg Media-SHA256: 0000"},
		{"crlf injection", "x.jpg\r\n\r\nSigned-off-by: eve", "x.jpg    Signed-off-by: eve"},
		{"lone cr", "x\r.jpg", "x .jpg"},
		{"tab", "a\tb.jpg", "a b.jpg"},
		{"unicode line separators", "a\u2028b\u2029c\u0085d.jpg", "a b c d.jpg"},
		{"nul and escape dropped", "a\x00b\x1b[31mc.jpg", "ab[31mc.jpg"},
		{"del and C1 dropped", "a\x7fb\u009bc.jpg", "abc.jpg"},
		{"bidi override dropped", "invoice\u202Egpj.exe", "invoicegpj.exe"},
		{"zero-width and BOM dropped", "\ufeffa\u200bb.jpg", "ab.jpg"},
		{"invalid utf-8", "a\xff\xfeb.jpg", "a\ufffdb.jpg"},
		{"only control chars", "\x00\x01\n", ""},
		{"long ascii", long, strings.Repeat("a", 200)},
		{"long at a rune boundary", straddle, strings.Repeat("é", 99)},
		{"trimmed after cut", strings.Repeat("a", 199) + "  tail", strings.Repeat("a", 199)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CleanFilename(tt.in)
			if got != tt.want {
				t.Errorf("CleanFilename(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) || len(got) > 200 || strings.ContainsAny(got, "\r\n/\\") {
				t.Errorf("CleanFilename(%q) = %q is not safe", tt.in, got)
			}
			if again := CleanFilename(got); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
		})
	}
}
