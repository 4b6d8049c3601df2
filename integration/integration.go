// Package integration proves spano under faults by running the real
// binary as a separate process against real bare remotes on disk: it is
// killed with SIGKILL mid-upload and mid-push, its remote disappears and
// moves under it, two copies push to one remote, and real Jekyll and Hugo
// builds must serve the bytes at the URLs it returned.
//
// The tests sit behind the "integration" build tag so that
// `go test ./...` stays hermetic and quick:
//
//	go test -tags integration -count=1 ./integration/
//
// TESTING.md at the repository root lists every scenario and what it
// proves.
package integration
