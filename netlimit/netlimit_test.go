package netlimit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h on a real loopback listener with opts, as cmd/spano does.
func serve(t *testing.T, h http.Handler, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, opts)
	go srv.Serve(Listener(ln, opts))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
	})
	return ln.Addr().String()
}

// trickle sends a POST whose body of size bytes comes chunk bytes every
// every, and returns the status line of the answer.
func trickle(t *testing.T, addr string, size, chunk int, every time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	go func() {
		for sent := 0; sent < size; sent += chunk {
			if _, err := c.Write([]byte(strings.Repeat("a", min(chunk, size-sent)))); err != nil {
				return
			}
			time.Sleep(every)
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestMinRate: a trickle is cut off within about a window; a slow body
// above the rate is read whole however long it takes, and the handler
// may work long after it without its request being cancelled.
func TestMinRate(t *testing.T) {
	opts := Options{MinRateBytes: 100, MinRateWindow: 300 * time.Millisecond}
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if errors.Is(err, ErrTooSlow) {
			http.Error(w, "too slow", http.StatusRequestTimeout)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select { // work after the body: longer than a window
		case <-time.After(2 * opts.MinRateWindow):
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}), opts)
	tests := []struct {
		name        string
		size, chunk int
		every       time.Duration
		want        string
		wantAtMost  time.Duration
		wantAtLeast time.Duration
	}{
		{name: "1 byte every 50 ms", size: 1000, chunk: 1, every: 50 * time.Millisecond, want: "HTTP/1.1 408", wantAtMost: 2 * time.Second},
		{name: "slow but above the rate, 8 windows long", size: 1200, chunk: 100, every: 200 * time.Millisecond, want: "HTTP/1.1 200", wantAtLeast: 2 * time.Second},
		{name: "fast", size: 1 << 20, chunk: 64 << 10, want: "HTTP/1.1 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			got := trickle(t, addr, tt.size, tt.chunk, tt.every)
			took := time.Since(start)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("answer %q, want %s", got, tt.want)
			}
			if tt.wantAtMost > 0 && took > tt.wantAtMost {
				t.Errorf("cut off after %s, want within %s", took, tt.wantAtMost)
			}
			if took < tt.wantAtLeast {
				t.Errorf("answered after %s: the body cannot have been read whole", took)
			}
		})
	}
}

func TestSlowHeadersAndIdle(t *testing.T) {
	opts := Options{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), opts)
	for name, send := range map[string]string{
		"headers never end": "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"idle keep-alive":   "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			fmt.Fprint(c, send)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, c) // until the server closes
			if err != nil {
				t.Fatalf("server did not close the connection: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("closed after %s", took)
			}
		})
	}
}

// TestWriteTimeout: a client that stops reading a large answer is shed.
func TestWriteTimeout(t *testing.T) {
	done := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		var err error
		for i := 0; i < 10000 && err == nil; i++ { // 640 MB: more than any socket buffer
			_, err = w.Write(buf)
		}
		done <- err
	}), Options{WriteTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("640 MB written to a client that reads nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write to a client that reads nothing never ended")
	}
}

func TestListenerCap(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), Options{MaxConns: 2})
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	get := func() (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		return bufio.NewReader(c).ReadString('\n')
	}
	if line, err := get(); err == nil {
		t.Fatalf("a third connection was served (%q) while two were held", line)
	}
	held[0].Close()
	time.Sleep(50 * time.Millisecond)
	if line, err := get(); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("after one closed: %q, %v", line, err)
	}
}

func TestGate(t *testing.T) {
	g := NewGate(2)
	r1, ok1 := g.TryAcquire()
	_, ok2 := g.TryAcquire()
	_, ok3 := g.TryAcquire()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquired %v %v %v, want true true false", ok1, ok2, ok3)
	}
	r1()
	r1() // twice is harmless
	if g.InUse() != 1 {
		t.Fatalf("in use %d after one release", g.InUse())
	}
	if _, ok := g.TryAcquire(); !ok {
		t.Fatal("a released slot was not free")
	}
	if _, ok := NewGate(0).TryAcquire(); !ok {
		t.Fatal("an unlimited gate refused")
	}
}

func TestFreeBytes(t *testing.T) {
	n, err := FreeBytes(t.TempDir())
	if errors.Is(err, ErrNoFreeSpace) {
		t.Skip("this system cannot tell free space")
	}
	if err != nil || n == 0 {
		t.Fatalf("FreeBytes = %d, %v", n, err)
	}
	if _, err := FreeBytes("/nonexistent/spano"); err == nil {
		t.Error("no error for a missing folder")
	}
}
