package repo

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
)

// Read returns the bytes of a blob of the view, at most limit of them: a
// small file (a record) read by its hash, without a path lookup.
func (h *History) Read(blob string, limit int64) ([]byte, error) {
	obj, err := h.st.EncodedObject(plumbing.BlobObject, plumbing.NewHash(blob))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", blob, err)
	}
	if obj.Size() > limit {
		return nil, fmt.Errorf("read blob %s: %d bytes, more than %d", blob, obj.Size(), limit)
	}
	rc, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", blob, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", blob, err)
	}
	return b, nil
}
