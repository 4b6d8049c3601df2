package index

import (
	"path"
	"strings"

	"spano/hashstore"
	"spano/record"
)

// Record describes the item as an upload record, its URLs laid out by l:
// what q=source, a duplicate's 201, the hooks and `spano records` tell
// of it.
func (it Item) Record(l record.Layout) record.Record {
	rec := record.Record{
		Path: it.Path, SHA256: it.SHA256, Type: it.Type, Size: it.Size,
		Width: it.Width, Height: it.Height, Published: it.Published,
		Storage: it.Storage, Filename: it.Filename, Client: it.Client,
		Duration: it.Duration, Poster: it.Poster,
		Variants: []record.Variant{},
	}
	if rec.Storage == "" {
		rec.Storage = record.StorageRepo
	}
	rec.URL = l.URL(rec.Path, rec.Storage)
	for _, t := range it.Thumbnails {
		typ := t.Type
		if typ == "" {
			typ, _ = hashstore.TypeFor(strings.TrimPrefix(path.Ext(t.Path), "."))
		}
		rec.Variants = append(rec.Variants, record.Variant{
			URL: l.URL(t.Path, record.StorageRepo), Path: t.Path,
			Type: typ, Width: t.Width, Height: t.Height,
		})
	}
	return rec
}
