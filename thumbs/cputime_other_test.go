//go:build !unix

package thumbs

import "time"

func cpuTime() time.Duration { return 0 }
