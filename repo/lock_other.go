//go:build !unix

package repo

import "os"

// lockFile is a no-op where flock does not exist: the owner makes sure
// that one spano at a time pushes from a clone (see README).
func lockFile(string) (*os.File, error) { return nil, nil }
