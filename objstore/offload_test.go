package objstore

import (
	"errors"
	"strings"
	"testing"
)

func TestOffloadSelects(t *testing.T) {
	o := Offload{MinSize: 20_000_000, Types: []string{"video/*", "audio/mpeg"}}
	tests := []struct {
		name string
		size int64
		typ  string
		want bool
	}{
		{"small photo", 3_000_000, "image/jpeg", false},
		{"photo at min size", 20_000_000, "image/jpeg", true},
		{"photo just under", 19_999_999, "image/jpeg", false},
		{"small video by wildcard", 1000, "video/mp4", true},
		{"quicktime by wildcard", 1000, "video/quicktime", true},
		{"exact type", 1000, "audio/mpeg", true},
		{"other audio", 1000, "audio/ogg", false},
		{"type case", 1000, "Video/MP4", true},
		{"wildcard is not a prefix match", 1000, "videos/mp4", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := o.Selects(tt.size, tt.typ); got != tt.want {
				t.Errorf("Selects(%d, %q) = %v, want %v", tt.size, tt.typ, got, tt.want)
			}
		})
	}
	if (Offload{}).Selects(1<<40, "video/mp4") {
		t.Error("the zero Offload selects a file")
	}
}

func TestOffloadValidate(t *testing.T) {
	tests := []struct {
		types   []string
		wantErr bool
	}{
		{[]string{"video/*", "image/jpeg", "audio/mp4"}, false},
		{nil, false},
		{[]string{"*/*"}, true},
		{[]string{"video"}, true},
		{[]string{"video/"}, true},
		{[]string{"vid*/mp4"}, true},
		{[]string{"video/mp*"}, true},
		{[]string{"Video/*"}, true},
		{[]string{"video/ mp4"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.types, ","), func(t *testing.T) {
			if err := (Offload{Types: tt.types}).Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%q) = %v, want error %v", tt.types, err, tt.wantErr)
			}
		})
	}
	if err := (Offload{MinSize: -1}).Validate(); err == nil {
		t.Error("a negative min size is valid")
	}
}

func TestRuleToBucket(t *testing.T) {
	off := Offload{MinSize: 20_000_000, Types: []string{"video/*"}}
	const limit = 100_000_000
	tests := []struct {
		name       string
		rule       Rule
		size       int64
		typ        string
		wantBucket bool
		wantErr    bool
	}{
		{"storage: small photo stays", Rule{true, off, limit}, 1000, "image/jpeg", false, false},
		{"storage: video goes", Rule{true, off, limit}, 1000, "video/mp4", true, false},
		{"storage: big photo goes", Rule{true, off, limit}, 25_000_000, "image/jpeg", true, false},
		{"storage, no offload: too big for git goes", Rule{true, Offload{}, limit}, limit, "image/png", true, false},
		{"storage, no offload: under the limit stays", Rule{true, Offload{}, limit}, limit - 1, "video/mp4", false, false},
		{"no storage: video stays", Rule{false, off, limit}, 1000, "video/mp4", false, false},
		{"no storage: just under the limit stays", Rule{false, off, limit}, limit - 1, "video/mp4", false, false},
		{"no storage: at the limit is refused", Rule{false, off, limit}, limit, "video/mp4", false, true},
		{"no storage, no limit", Rule{false, off, 0}, 1 << 40, "video/mp4", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rule.ToBucket(tt.size, tt.typ)
			if got != tt.wantBucket || (err != nil) != tt.wantErr {
				t.Fatalf("ToBucket = %v, %v; want %v, error %v", got, err, tt.wantBucket, tt.wantErr)
			}
			if err == nil {
				return
			}
			var le *GitLimitError
			if !errors.Is(err, ErrTooBigForGit) || !errors.As(err, &le) || le.Limit != limit || le.Size != tt.size {
				t.Errorf("error %v is not a GitLimitError of the limit", err)
			}
			if !strings.Contains(err.Error(), "storage.s3") {
				t.Errorf("error %q does not say how to offload", err)
			}
		})
	}
}
