package hashstore

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"spano/internal/testphoto"
	"strings"
	"testing"

	"github.com/gabriel-vasile/mimetype"
	_ "golang.org/x/image/webp"
)

func TestSpoolAcceptsRealMedia(t *testing.T) {
	tests := []struct {
		name     string
		data     func(testing.TB) []byte
		wantType string
		wantExt  string
	}{
		{"png", pngBytes, "image/png", "png"},
		{"apng", func(t testing.TB) []byte {
			// num_frames 1, num_plays 0: an acTL before IDAT makes an APNG.
			return withPNGChunk(t, pngBytes(t), "acTL", []byte{0, 0, 0, 1, 0, 0, 0, 0})
		}, "image/png", "png"},
		{"jpeg", jpegBytes, "image/jpeg", "jpg"},
		{"jpeg with XMP packet", func(t testing.TB) []byte {
			return testphoto.WithSegment(jpegBytes(t), 0xE1, []byte(xmpPacket))
		}, "image/jpeg", "jpg"},
		{"png with XMP in iTXt", func(t testing.TB) []byte {
			return withPNGChunk(t, pngBytes(t), "iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+xmpPacket[len("http://ns.adobe.com/xap/1.0/\x00"):]))
		}, "image/png", "png"},
		{"gif", gifBytes, "image/gif", "gif"},
		{"webp lossy", file("sample.webp"), "image/webp", "webp"},
		{"webp lossless", file("lossless.webp"), "image/webp", "webp"},
		{"mp4", file("sample.mp4"), "video/mp4", "mp4"},
		{"mp4 audio only, isom brand", file("audio-only-isom.mp4"), "video/mp4", "mp4"},
		{"m4a", file("sample.m4a"), "audio/mp4", "m4a"},
		{"mov", file("sample.mov"), "video/quicktime", "mov"},
		{"webm", file("sample.webm"), "video/webm", "webm"},
		{"webm audio only", file("audio-only.webm"), "video/webm", "webm"},
		{"mp3 with ID3", file("sample.mp3"), "audio/mpeg", "mp3"},
		{"mp3 without ID3", file("sample-noid3.mp3"), "audio/mpeg", "mp3"},
		{"ogg vorbis", file("sample-vorbis.ogg"), "audio/ogg", "ogg"},
		{"ogg opus", file("sample-opus.ogg"), "audio/ogg", "ogg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, nil)
			data := tt.data(t)
			f, err := s.Spool(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Spool: %v", err)
			}
			defer f.Remove()
			if got, want := f.Type, tt.wantType; got != want {
				t.Errorf("Type = %q, want %q", got, want)
			}
			if got, want := f.Ext, tt.wantExt; got != want {
				t.Errorf("Ext = %q, want %q", got, want)
			}
			if got, want := f.Size, int64(len(data)); got != want {
				t.Errorf("Size = %d, want %d", got, want)
			}
			f.Remove()
			assertEmptyDir(t, dir)
		})
	}
}

// file returns a sample loader for testdata/name.
func file(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return testdata(t, name) }
}

// The image samples must be real images, or the tests above prove little.
func TestImageSamplesDecode(t *testing.T) {
	samples := map[string][]byte{
		"png":           pngBytes(t),
		"apng":          withPNGChunk(t, pngBytes(t), "acTL", []byte{0, 0, 0, 1, 0, 0, 0, 0}),
		"jpeg with XMP": testphoto.WithSegment(jpegBytes(t), 0xE1, []byte(xmpPacket)),
		"gif":           gifBytes(t),
		"webp lossy":    testdata(t, "sample.webp"),
		"webp lossless": testdata(t, "lossless.webp"),
	}
	for name, b := range samples {
		if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: decode: %v", name, err)
		}
	}
}

func TestSpoolRefusesTypes(t *testing.T) {
	// Text with a stray MP3 frame in it: mimetype calls it audio/mpeg.
	textWithFrame := append([]byte("hello <b>there</b>\n"), testdata(t, "sample-noid3.mp3")...)
	if got := mimetype.Detect(textWithFrame).String(); got != "audio/mpeg" {
		t.Fatalf("precondition: mimetype says %q for text before an MP3 frame, want audio/mpeg", got)
	}
	random := make([]byte, 8192)
	rand.NewChaCha8([32]byte{1}).Read(random)

	tests := []struct {
		name     string
		data     []byte
		types    []string
		wantType string
	}{
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>`), nil, "image/svg+xml"},
		{"svg with xml declaration", []byte(`<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg"></svg>`), nil, "image/svg+xml"},
		{"html", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), nil, "text/html"},
		{"javascript", []byte("#!/usr/bin/env node\nalert(document.cookie)\n"), nil, "text/javascript"},
		{"plain text", []byte("just some words\n"), nil, "text/plain"},
		{"random bytes", random, nil, "application/octet-stream"},
		{"text with an mp3 frame", textWithFrame, nil, "application/octet-stream"},
		{"ogg theora", testdata(t, "theora.ogv"), nil, "video/ogg"},
		{"ogg vorbis then theora", testdata(t, "vorbis-then-theora.ogv"), nil, "video/ogg"},
		{"png not in types", pngBytes(t), []string{"image/jpeg"}, "image/png"},
		{"m4a not in types", testdata(t, "sample.m4a"), []string{"video/mp4"}, "audio/mp4"},
		{"mp4 not in types", testdata(t, "sample.mp4"), []string{"audio/mp4"}, "video/mp4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, func(o *Options) { o.Types = tt.types })
			f, err := s.Spool(context.Background(), bytes.NewReader(tt.data))
			if err == nil {
				f.Remove()
				t.Fatalf("Spool accepted %s as %s", tt.name, f.Type)
			}
			if !errors.Is(err, ErrTypeNotAllowed) {
				t.Fatalf("err = %v, want ErrTypeNotAllowed", err)
			}
			var te *TypeError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *TypeError", err)
			}
			if got, want := te.Type, tt.wantType; got != want {
				t.Errorf("TypeError.Type = %q, want %q", got, want)
			}
			if te.Reason != "" {
				t.Errorf("TypeError.Reason = %q, want none", te.Reason)
			}
			assertEmptyDir(t, dir)
		})
	}
}

func TestSpoolRefusesPolyglots(t *testing.T) {
	mp3 := testdata(t, "sample.mp3")
	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantTag  string
	}{
		{"html right after the GIF header", []byte("GIF89a<html><body><script>alert(1)</script>"), "image/gif", "html"},
		{"script appended to a real GIF", append(gifBytes(t), "<script>alert(1)</script>"...), "image/gif", "script"},
		{"html in a JPEG comment", testphoto.WithSegment(jpegBytes(t), 0xFE, []byte("<html><img src=x onerror=alert(1)>")), "image/jpeg", "html"},
		{"svg beside an XMP packet", testphoto.WithSegment(testphoto.WithSegment(jpegBytes(t), 0xFE, []byte("<svg/onload=alert(1)>")), 0xE1, []byte(xmpPacket)), "image/jpeg", "svg"},
		{"svg in a PNG text chunk", withPNGChunk(t, pngBytes(t), "tEXt", []byte("Comment\x00<SVG\fonload=alert(1)>")), "image/png", "svg"},
		{"iframe in an MP4 free box", withMP4Box(t, testdata(t, "sample.mp4"), "free", []byte(`<iframe src="https://evil.example/">`)), "video/mp4", "iframe"},
		{"doctype in a QuickTime free box", withMP4Box(t, testdata(t, "sample.mov"), "free", []byte("<!DocType html>")), "video/quicktime", "!doctype"},
		{"uppercase script in an ID3 tag", splice(mp3, 10, []byte("<SCRIPT>alert(1)</SCRIPT>")), "audio/mpeg", "script"},
		{"xml declaration in a WebP", append(testdata(t, "sample.webp"), "<?xml version='1.0'?>"...), "image/webp", "?xml"},
		{"xml stylesheet in a PNG", withPNGChunk(t, pngBytes(t), "tEXt", []byte(`c`+"\x00"+`<?xml-stylesheet href="x.xsl"?>`)), "image/png", "?xml-stylesheet"},
		{"flash cross-domain policy in a JPEG", testphoto.WithSegment(jpegBytes(t), 0xFE, []byte(`<cross-domain-policy><allow-access-from domain="*"/>`)), "image/jpeg", "cross-domain-policy"},
		{"body at the very end of the head", append(gifBytes(t)[:6], []byte("<body")...), "image/gif", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, nil)
			f, err := s.Spool(context.Background(), bytes.NewReader(tt.data))
			if err == nil {
				f.Remove()
				t.Fatalf("Spool accepted a polyglot as %s", f.Type)
			}
			var te *TypeError
			if !errors.As(err, &te) || !errors.Is(err, ErrTypeNotAllowed) {
				t.Fatalf("err = %v, want a *TypeError matching ErrTypeNotAllowed", err)
			}
			if got, want := te.Type, tt.wantType; got != want {
				t.Errorf("TypeError.Type = %q, want %q", got, want)
			}
			if got, want := te.Reason, "contains markup (<"+tt.wantTag+")"; got != want {
				t.Errorf("TypeError.Reason = %q, want %q", got, want)
			}
			assertEmptyDir(t, dir)
		})
	}
}

func TestFindMarkup(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"xpacket", `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>`, ""},
		{"xmpmeta", `<x:xmpmeta xmlns:x="adobe:ns:meta/">`, ""},
		{"rdf and namespaced title", `<rdf:RDF><dc:title>hi</dc:title></rdf:RDF>`, ""},
		{"longer name that starts like a tag", "<scripts> <svgz> <htmlfoo>", ""},
		{"tag name cut by the end", "<scri", ""},
		{"lone angle bracket", "a < b <", ""},
		{"short tags are not checked", "<a href=x><p><b>", ""},
		{"script", "\x00\x01<script>", "script"},
		{"mixed case", "<ScRiPt src=x>", "script"},
		{"self-closing svg", "<svg/onload=alert(1)>", "svg"},
		{"tab after name", "<img\tsrc=x>", "img"},
		{"form feed after name", "<iframe\fsrc=x>", "iframe"},
		{"tag at the very end", "junk<html", "html"},
		{"doctype", "<!doctype html>", "!doctype"},
		{"xml declaration", "<?xml version='1.0'?>", "?xml"},
		{"php", "<?php system($_GET['c']); ?>", "?php"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := FindMarkup([]byte(tt.in)), tt.want; got != want {
				t.Errorf("FindMarkup(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

// Random binary data, the bulk of every compressed file, must practically
// never look like markup, or real uploads would be refused at random.
func TestFindMarkupRandomData(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, headSize)
	hits := 0
	for range 2000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		if FindMarkup(buf) != "" {
			hits++
		}
	}
	if hits != 0 {
		t.Errorf("%d of 2000 random 4 KiB heads look like markup", hits)
	}
}

func TestOggType(t *testing.T) {
	vorbis := testdata(t, "sample-vorbis.ogg")
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"vorbis", vorbis, "audio/ogg"},
		{"opus", testdata(t, "sample-opus.ogg"), "audio/ogg"},
		{"theora first", testdata(t, "theora.ogv"), "video/ogg"},
		{"vorbis then theora", testdata(t, "vorbis-then-theora.ogv"), "video/ogg"},
		{"vorbis then unknown codec", append(oggBOSPages(t, 1), "OggS\x00\x02"+strings.Repeat("\x00", 20)+"\x01\x09\x01unknowns"...), "application/ogg"},
		{"bos pages fill the whole head", oggBOSPages(t, headSize+100), "application/ogg"},
		{"not ogg", []byte("OggX"), "application/ogg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := tt.head[:min(len(tt.head), headSize)]
			if got, want := oggType(head), tt.want; got != want {
				t.Errorf("oggType = %q, want %q", got, want)
			}
		})
	}
}

// oggBOSPages returns Vorbis BOS pages until at least n bytes: a head cut
// off among them cannot tell whether a video stream follows.
func oggBOSPages(t testing.TB, n int) []byte {
	t.Helper()
	first := testdata(t, "sample-vorbis.ogg")
	page := first[:27+int(first[26])+int(first[27])] // one segment: the identification header
	var b []byte
	for len(b) < n {
		b = append(b, page...)
	}
	return b
}

func TestExtForTypeFor(t *testing.T) {
	tests := []struct {
		typ, ext string
	}{
		{"image/jpeg", "jpg"},
		{"image/png", "png"},
		{"image/gif", "gif"},
		{"image/webp", "webp"},
		{"image/avif", "avif"},
		{"video/mp4", "mp4"},
		{"video/quicktime", "mov"},
		{"video/webm", "webm"},
		{"audio/mpeg", "mp3"},
		{"audio/mp4", "m4a"},
		{"audio/ogg", "ogg"},
	}
	// Converted types are stored under the extension of what they become,
	// and that extension names the stored type, not the source.
	convertedTests := []struct {
		typ, ext, published string
	}{
		{"image/heic", "jpg", "image/jpeg"},
		{"image/heif", "jpg", "image/jpeg"},
	}
	if got, want := len(types), len(tests)+len(convertedTests); got != want {
		t.Errorf("%d supported types, tables have %d", got, want)
	}
	for _, tt := range convertedTests {
		if got, ok := ExtFor(tt.typ); !ok || got != tt.ext {
			t.Errorf("ExtFor(%q) = %q, %v; want %q, true", tt.typ, got, ok, tt.ext)
		}
		if got, want := PublishedType(tt.typ), tt.published; got != want {
			t.Errorf("PublishedType(%q) = %q, want %q", tt.typ, got, want)
		}
		if !Converted(tt.typ) {
			t.Errorf("Converted(%q) = false, want true", tt.typ)
		}
		if got, want := types[tt.published], tt.ext; got != want {
			t.Errorf("types[%q] = %q, want %q (the converted type's extension)", tt.published, got, want)
		}
	}
	for _, tt := range tests {
		if got, want := PublishedType(tt.typ), tt.typ; got != want || Converted(tt.typ) {
			t.Errorf("PublishedType(%q) = %q, Converted %v; want itself, false", tt.typ, got, Converted(tt.typ))
		}
	}
	for _, tt := range tests {
		if got, ok := ExtFor(tt.typ); !ok || got != tt.ext {
			t.Errorf("ExtFor(%q) = %q, %v; want %q, true", tt.typ, got, ok, tt.ext)
		}
		if got, ok := TypeFor(tt.ext); !ok || got != tt.typ {
			t.Errorf("TypeFor(%q) = %q, %v; want %q, true", tt.ext, got, ok, tt.typ)
		}
	}
	for _, typ := range []string{"", "image/svg+xml", "text/html", "text/plain", "image/jpg", "IMAGE/JPEG", "image/jpeg; charset=x", "video/ogg", "application/ogg", "audio/webm", "image/heic-sequence", "image/heif-sequence", "application/octet-stream"} {
		if ext, ok := ExtFor(typ); ok {
			t.Errorf("ExtFor(%q) = %q, want not ok", typ, ext)
		}
	}
	for _, ext := range []string{"", "jpeg", "JPG", ".jpg", "svg", "html", "m4v", "oga", "txt", "heic", "heif"} {
		if typ, ok := TypeFor(ext); ok {
			t.Errorf("TypeFor(%q) = %q, want not ok", ext, typ)
		}
	}
}

// ftypHead is the start of an ISO base media file: an ftyp box with the
// given major and compatible brands, then an empty meta box.
func ftypHead(major string, compatible ...string) []byte {
	b := []byte{0, 0, 0, 0}
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compatible {
		b = append(b, c...)
	}
	b[3] = byte(len(b))
	return append(b, "\x00\x00\x00\x0cmeta\x00\x00\x00\x00"...)
}

func TestSniffHEIFBrands(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"apple heic", ftypHead("heic", "mif1", "MiHE", "miaf", "MiHB", "heic"), "image/heic"},
		{"heix", ftypHead("heix", "mif1", "heix"), "image/heic"},
		{"libheif heif", ftypHead("mif1", "mif1", "heic", "miaf"), "image/heif"},
		{"mif1 alone", ftypHead("mif1", "mif1"), "image/heif"},
		{"avif", ftypHead("avif", "avif", "mif1", "miaf", "MA1B"), "image/avif"},
		{"avif sequence", ftypHead("avis", "avis", "msf1", "avif"), "image/avif"},
		{"mif1 major, avif compatible", ftypHead("mif1", "mif1", "avif", "miaf"), "image/avif"},
		{"mif1 major, avif and heic compatible", ftypHead("mif1", "avif", "heic"), "image/heif"},
		{"heic sequence", ftypHead("hevc", "msf1", "hevc"), "image/heic-sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sniff(tt.head); got != tt.want {
				t.Errorf("sniff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHEIFTypeShortOrBroken(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"empty", nil, "image/heif"},
		{"no compatible brands", []byte("\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00"), "image/heif"},
		// A box size that cannot be right: the brands in the head are read.
		{"size past the head", append([]byte("\xff\xff\xff\xffftypmif1\x00\x00\x00\x00"), "avif"...), "image/avif"},
		{"size too small", append([]byte("\x00\x00\x00\x01ftypmif1\x00\x00\x00\x00"), "avif"...), "image/avif"},
		{"brand cut short", append([]byte("\x00\x00\x00\x13ftypmif1\x00\x00\x00\x00"), "avi"...), "image/heif"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := heifType(tt.head); got != tt.want {
				t.Errorf("heifType(%q) = %q, want %q", tt.head, got, tt.want)
			}
		})
	}
}

// Real HEIC and AVIF files, made by heif-enc (Debian libheif-examples)
// from a Go JPEG, spool as their types with the extension of what is
// stored for them.
func TestSpoolHEIFFamily(t *testing.T) {
	enc, err := exec.LookPath("heif-enc")
	if err != nil {
		t.Skip("heif-enc not installed (Debian: libheif-examples); .ci/run installs it")
	}
	tests := []struct {
		name, flag, wantType, wantExt string
	}{
		{"heic", "", "image/heic", "jpg"},
		{"avif", "-A", "image/avif", "avif"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out."+tt.name)
			if err := os.WriteFile(in, jpegBytes(t), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"-q", "50", "-o", out, in}
			if tt.flag != "" {
				args = append([]string{tt.flag}, args...)
			}
			if msg, err := exec.Command(enc, args...).CombinedOutput(); err != nil {
				t.Fatalf("heif-enc: %v\n%s", err, msg)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := newStore(t, func(o *Options) { o.Types = []string{tt.wantType} })
			f, err := s.Spool(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Spool: %v", err)
			}
			defer f.Remove()
			if f.Type != tt.wantType || f.Ext != tt.wantExt {
				t.Errorf("Type, Ext = %q, %q; want %q, %q", f.Type, f.Ext, tt.wantType, tt.wantExt)
			}
		})
	}
}
