package indieauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// blockedEndpoint answers only once release is called; a failing test
// releases it too, so that closing the server does not hang.
func blockedEndpoint(t *testing.T) (e *endpoint, release func()) {
	ch := make(chan struct{})
	e = newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		<-ch
		jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media"}`)(w, r)
	})
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release) // runs before the server's Close
	return e, release
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestConcurrentFirstRequests(t *testing.T) {
	tests := []struct {
		name      string
		ttl       time.Duration
		tokens    int // distinct tokens among the 64 requests
		wantCalls int64
	}{
		// Without a cache nothing but the shared flight can keep the count at 1.
		{name: "one token, no cache", ttl: 0, tokens: 1, wantCalls: 1},
		{name: "one token, cache", ttl: time.Minute, tokens: 1, wantCalls: 1},
		{name: "eight tokens", ttl: time.Minute, tokens: 8, wantCalls: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, release := blockedEndpoint(t)
			v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: tt.ttl})
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := v.Verify(context.Background(), fmt.Sprintf("tok-%d", i%tt.tokens))
					if err == nil && !tok.HasAnyScope([]string{"media"}) {
						err = fmt.Errorf("scopes %q", tok.Scopes)
					}
					errs <- err
				}()
			}
			// Let every request reach the flight while the endpoint holds
			// the first ones.
			waitFor(t, "the endpoint calls", func() bool { return e.calls.Load() >= tt.wantCalls })
			time.Sleep(200 * time.Millisecond)
			release()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
			}
			if got := e.calls.Load(); got != tt.wantCalls {
				t.Errorf("endpoint calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

// TestWaiterGivesUp: a request whose client went away stops waiting, but the
// shared call goes on for the others and its answer is cached.
func TestWaiterGivesUp(t *testing.T) {
	e, release := blockedEndpoint(t)
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := v.Verify(ctx, "tok")
		errc <- err
	}()
	waitFor(t, "the endpoint call", func() bool { return e.calls.Load() >= 1 })
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify after cancel = %v, want ErrUnavailable and context.Canceled", err)
	}
	release()
	if _, err := v.Verify(context.Background(), "tok"); err != nil {
		t.Fatalf("Verify after release: %v", err)
	}
	if got := e.calls.Load(); got != 1 {
		t.Errorf("endpoint calls = %d, want 1", got)
	}
}

// TestFailureNotShared: a failed flight is not remembered; the next request
// asks again.
func TestFailureNotShared(t *testing.T) {
	var mu sync.Mutex
	status := 503
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := status
		mu.Unlock()
		jsonReply(s, `{"active":true,"me":"https://example.com/"}`)(w, r)
	})
	v := newVerifier(t, Options{IntrospectionEndpoint: e.URL, CacheTTL: time.Minute})
	if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify while down = %v, want ErrUnavailable", err)
	}
	mu.Lock()
	status = 200
	mu.Unlock()
	if _, err := v.Verify(context.Background(), "tok"); err != nil {
		t.Fatalf("Verify after recovery = %v", err)
	}
	if got := e.calls.Load(); got != 2 {
		t.Errorf("endpoint calls = %d, want 2", got)
	}
}
