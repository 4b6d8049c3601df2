//go:build unix

package thumbs

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far.
// Benchmarks report it beside wall time because the wall time of a
// two-core machine shared with other work says little on its own.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
