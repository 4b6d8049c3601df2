// Command spano is a Micropub media endpoint for static sites: it stores
// uploads under content-addressed paths in the site's git repository,
// commits, pushes and answers with the URL the site will publish.
//
// main only turns signals into a context and an error into an exit code;
// run does the work so that tests can call it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; when it
// is empty the module version or VCS revision is reported.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "spano:", err)
		}
		os.Exit(2)
	}
}

const usage = `spano is a Micropub media endpoint for static sites.

Usage:
  spano serve [-config PATH] [-listen ADDR]   run the endpoint
  spano upload [-endpoint URL] [-token T] FILE…
                                              upload files ($SPANO_TOKEN)
  spano log [-n N] [-json]                    media history, newest first
  spano fsck                                  check every media file's hash and name
  spano unblock [-commit HASH]                drop the commit the remote refuses, push the others
                                              (with spano serve stopped)
  spano kit -generator jekyll|hugo DIR        write the <picture> helpers into a site
  spano records                               commit the records earlier uploads lack
  spano version                               print the version

Every command but version takes -config PATH. Run "spano CMD -h" for the
flags of CMD.
`

// run executes the command line args (without the program name) until ctx
// is cancelled or the command ends. Human output goes to stdout, logs to
// stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "upload":
		return runUpload(ctx, args[1:], stdout, stderr)
	case "log":
		return runLog(ctx, args[1:], stdout, stderr)
	case "fsck":
		return runFsck(ctx, args[1:], stdout, stderr)
	case "kit":
		return runKit(ctx, args[1:], stdout, stderr)
	case "unblock":
		return runUnblock(ctx, args[1:], stdout, stderr)
	case "records":
		return runRecords(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "spano", versionString())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// versionString is the version set at build time, else what the Go
// toolchain recorded about the build.
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "(devel)"
	}
	return "(devel) " + rev[:min(12, len(rev))] + dirty
}
