// Package netlimit keeps slow and numerous clients from taking a server
// down: a cap on concurrent connections, deadlines wherever a client can
// stall (request headers, each body read as a minimum transfer rate over
// a window, each write, idle keep-alive), a gate for expensive work such
// as spooling uploads, and a free-space check.
//
// Every limit has a default that a real client never meets: a phone
// sending a 50 MB video over a slow uplink keeps well above the minimum
// rate, so it is never cut off, however long it takes. Only a client that
// stalls or trickles is.
package netlimit

import (
	"errors"
	"net/http"
	"time"
)

// Defaults of Options.
const (
	// DefaultMaxConns is high enough that slow clients are shed by the
	// deadlines long before the cap: it is the last line, not the first.
	DefaultMaxConns = 4096
	// DefaultReadHeaderTimeout bounds the request line and headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds a keep-alive connection between requests.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes caps the request line and headers; real ones
	// are a few KB (net/http's own default is 1 MB).
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMinRateBytes and DefaultMinRateWindow: a body must bring at
	// least 4 KiB every 30 s (about 140 bytes a second, a hundredth of
	// the slowest mobile uplink), so a stalled or trickling client is cut
	// off within 30 s and a slow honest one never.
	DefaultMinRateBytes  = 4 << 10
	DefaultMinRateWindow = 30 * time.Second
	// DefaultWriteTimeout bounds each write of a response: a client that
	// stops reading is shed, one that reads slowly is not.
	DefaultWriteTimeout = time.Minute
)

var (
	// ErrTooSlow: a request body arrived more slowly than the minimum rate.
	ErrTooSlow = errors.New("request body arrived too slowly")
	// ErrNoFreeSpace: this system cannot tell free space; callers skip
	// the check.
	ErrNoFreeSpace = errors.New("free space unknown on this system")
)

// Options are the connection-level limits; zero values take the
// defaults, negative ones turn a limit off.
type Options struct {
	MaxConns          int           // concurrent connections
	ReadHeaderTimeout time.Duration // request line and headers
	IdleTimeout       time.Duration // keep-alive between requests
	MaxHeaderBytes    int           // request line and headers
	MinRateBytes      int64         // a body brings at least this many bytes …
	MinRateWindow     time.Duration // … in every window of this length
	WriteTimeout      time.Duration // each write of a response
}

// withDefaults fills zero values.
func (o Options) withDefaults() Options {
	set := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&o.IdleTimeout, DefaultIdleTimeout)
	set(&o.MinRateWindow, DefaultMinRateWindow)
	set(&o.WriteTimeout, DefaultWriteTimeout)
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MinRateBytes == 0 {
		o.MinRateBytes = DefaultMinRateBytes
	}
	return o
}

// NewServer returns an *http.Server for h with the header, idle and
// per-read/per-write deadlines of opts. It sets no total ReadTimeout or
// WriteTimeout: a large upload or download over a slow link may take
// hours and must not be cut off. Serve it on Listener(ln, opts) to cap
// connections. The caller may set ErrorLog, BaseContext and the rest.
func NewServer(h http.Handler, opts Options) *http.Server {
	opts = opts.withDefaults()
	srv := &http.Server{
		Handler:        Handler(h, opts),
		MaxHeaderBytes: opts.MaxHeaderBytes,
	}
	if opts.ReadHeaderTimeout > 0 {
		srv.ReadHeaderTimeout = opts.ReadHeaderTimeout
	}
	if opts.IdleTimeout > 0 {
		srv.IdleTimeout = opts.IdleTimeout
	}
	return srv
}
