package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
)

// withGPS returns jpeg with an EXIF segment holding a GPS latitude, as a
// phone writes it; lat makes each location's bytes distinct.
func withGPS(jpeg []byte, lat uint32) (photo, coords []byte) {
	le := binary.LittleEndian
	tiff := make([]byte, 80)
	copy(tiff, "II*\x00")
	le.PutUint32(tiff[4:], 8)
	// IFD0: one entry, GPSInfo → the GPS IFD at 26.
	le.PutUint16(tiff[8:], 1)
	le.PutUint16(tiff[10:], 0x8825)
	le.PutUint16(tiff[12:], 4)
	le.PutUint32(tiff[14:], 1)
	le.PutUint32(tiff[18:], 26)
	// GPS IFD: GPSLatitudeRef "N", GPSLatitude → three rationals at 56.
	le.PutUint16(tiff[26:], 2)
	le.PutUint16(tiff[28:], 1)
	le.PutUint16(tiff[30:], 2)
	le.PutUint32(tiff[32:], 2)
	copy(tiff[36:], "N\x00")
	le.PutUint16(tiff[40:], 2)
	le.PutUint16(tiff[42:], 5)
	le.PutUint32(tiff[44:], 3)
	le.PutUint32(tiff[48:], 56)
	for i, v := range []uint32{lat, 1, 31, 1, 1234, 100} {
		le.PutUint32(tiff[56+4*i:], v)
	}
	coords = append([]byte(nil), tiff[56:80]...)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	photo = append(append(append([]byte{}, jpeg[:2]...), append(seg, app1...)...), jpeg[2:]...)
	return photo, coords
}

// TestUploadStripsGPS: the stored original has no coordinates, its URL
// is the hash of the cleaned bytes, and the same photo taken to two
// places dedupes to one file.
func TestUploadStripsGPS(t *testing.T) {
	e := newEnv(t, envOptions{serve: true})
	plain := makeJPEG(t, 21, 400, 300)
	home, homeCoords := withGPS(plain, 52)
	away, _ := withGPS(plain, 48)

	var first, second uploadResponse
	resp := e.upload(goodToken, "home.jpg", home)
	decode(t, resp, &first)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	stored := e.media(t, first.URL)
	if bytes.Contains(stored, homeCoords) {
		t.Error("the stored original still holds the GPS latitude")
	}
	if len(stored) != len(home) {
		t.Errorf("stored %d bytes, uploaded %d: cleaning must not change the size", len(stored), len(home))
	}
	if got := digest(string(stored)); got != first.SHA256 {
		t.Errorf("sha256 = %s, but the stored bytes hash to %s", first.SHA256, got)
	}

	resp = e.upload(goodToken, "away.jpg", away)
	decode(t, resp, &second)
	if !second.Duplicate || second.URL != first.URL {
		t.Errorf("same photo, other place: %+v, want a duplicate of %s", second, first.URL)
	}
}

// media fetches a served media URL (media.serve) by its path.
func (e *env) media(t *testing.T, url string) []byte {
	t.Helper()
	path := url[len(siteURL):]
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return b
}
