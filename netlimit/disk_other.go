//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package netlimit

// FreeBytes cannot tell free space here.
func FreeBytes(dir string) (uint64, error) { return 0, ErrNoFreeSpace }
