package netlimit

import (
	"net"
	"sync"
)

// Listener returns ln accepting at most opts.MaxConns connections at
// once: Accept waits for one to close. Connections beyond the cap wait
// in the kernel's backlog instead of costing a file descriptor and a
// goroutine each.
func Listener(ln net.Listener, opts Options) net.Listener {
	opts = opts.withDefaults()
	if opts.MaxConns < 0 {
		return ln
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, opts.MaxConns), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
