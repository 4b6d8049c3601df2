//go:build spanopprof

package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
)

// A bench build (go build -tags spanopprof) serves net/http/pprof on
// $SPANO_PPROF (a loopback address), with block and mutex profiles on.
// The default build has none of it.
func init() {
	addr := os.Getenv("SPANO_PPROF")
	if addr == "" {
		return
	}
	runtime.SetBlockProfileRate(100_000)
	runtime.SetMutexProfileFraction(10)
	go http.ListenAndServe(addr, nil)
}
