package netlimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Handler wraps h so that every request body must keep the minimum
// transfer rate of opts and every write of the response must finish
// within opts.WriteTimeout. Both work through connection deadlines
// (http.ResponseController), so a stalled client is cut off even while
// a read or write waits on it.
func Handler(h http.Handler, opts Options) http.Handler {
	opts = opts.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if opts.MinRateBytes > 0 && opts.MinRateWindow > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &rateBody{ReadCloser: r.Body, rc: rc, min: opts.MinRateBytes, window: opts.MinRateWindow, now: time.Now}
		}
		if opts.WriteTimeout > 0 {
			w = &deadlineWriter{ResponseWriter: w, rc: rc, timeout: opts.WriteTimeout}
		}
		h.ServeHTTP(w, r)
	})
}

// rateBody is a request body that must bring min bytes in every window:
// each time it has, the connection's read deadline moves a window ahead
// of now. A stall or a trickle lets the deadline pass, and the read
// fails with ErrTooSlow.
type rateBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	min    int64
	window time.Duration
	now    func() time.Time

	started bool
	got     int64     // bytes since the window began
	since   time.Time // when it began
	noDL    bool      // the connection takes no deadlines: the rate is checked on each read
}

func (b *rateBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		b.restart()
	}
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, fmt.Errorf("read body: less than %d bytes in %s: %w", b.min, b.window, ErrTooSlow)
	case err != nil:
		b.clear() // done (EOF) or failed: the connection's next reads are net/http's
		return n, err
	case b.got >= b.min:
		b.restart()
	case b.noDL && b.now().Sub(b.since) > b.window:
		return n, fmt.Errorf("read body: less than %d bytes in %s: %w", b.min, b.window, ErrTooSlow)
	}
	return n, nil
}

func (b *rateBody) restart() {
	b.got, b.since = 0, b.now()
	if err := b.rc.SetReadDeadline(b.since.Add(b.window)); err != nil {
		b.noDL = true
	}
}

// clear lifts the deadline: after the body, net/http reads the connection
// in the background while the handler works, and a deadline passing then
// would cancel the request.
func (b *rateBody) clear() {
	if !b.noDL {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

func (b *rateBody) Close() error {
	b.clear()
	return b.ReadCloser.Close()
}

// deadlineWriter gives each write of a response timeout to finish.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout)) // unsupported: no deadline, as before
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection through w.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
