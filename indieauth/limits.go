package indieauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of the flood limits. A real owner makes a handful of distinct
// tokens a day and retries a revoked one a few times, so none of these is
// ever reached by one.
const (
	// DefaultNegativeTTL is how long a token the endpoint rejected is
	// answered from memory: long enough to absorb a replay flood, short
	// enough that a token the owner just created is not refused for long.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultFailuresPerMinute is how many failed verifications one client
	// address may cause a minute (with as many at once) before it is told
	// to wait.
	DefaultFailuresPerMinute = 20
	// DefaultEndpointRate and DefaultEndpointBurst bound the calls to the
	// token endpoint overall, per second and at once.
	DefaultEndpointRate  = 10
	DefaultEndpointBurst = 50
	// knownFor is how long a token that was once valid skips the overall
	// bound: the owner's token, even once its cache entry has expired,
	// is never held back by a flood of others.
	knownFor = 7 * 24 * time.Hour
	// knownSize and maxTracked bound the memory of the limits.
	knownSize  = 1000
	maxTracked = 10000
)

// ErrRateLimited: the client address caused too many failed verifications
// lately (429, with Retry-After).
var ErrRateLimited = errors.New("too many failed token verifications from this address")

type clientKey struct{}

// Middleware records each request's client address for Verify: the
// connection's peer, or, when that peer is one of Options.TrustedProxies,
// the address the proxies name in X-Forwarded-For. Without it every
// request is of an unknown address and only the overall bound applies.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := ClientAddr(r, v.trusted); a.IsValid() {
			r = r.WithContext(context.WithValue(r.Context(), clientKey{}, a))
		}
		next.ServeHTTP(w, r)
	})
}

// ClientAddr is the address of the client that sent r: the peer of the
// connection, unless that peer is in trusted; then X-Forwarded-For is read
// from the right, skipping trusted proxies, and the first other address is
// the client. A value the proxies did not write (left of an unparsable
// one) is never believed.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !inAny(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !inAny(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientOf is the key the failure limit counts by: an IPv4 address, or
// the /64 of an IPv6 one (one host holds a whole /64). ok is false when
// the request's address is unknown.
func clientOf(ctx context.Context) (netip.Prefix, bool) {
	a, ok := ctx.Value(clientKey{}).(netip.Addr)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// bucket is a token bucket: rate per second, burst at most.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if !b.last.IsZero() {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
}

// limiter is one bucket overall (rate <= 0: no bound).
type limiter struct {
	mu          sync.Mutex
	rate, burst float64
	b           bucket
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), b: bucket{tokens: float64(burst)}}
}

// take spends one call, or reports false when none is left.
func (l *limiter) take(now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.refill(now, l.rate, l.burst)
	if l.b.tokens < 1 {
		return false
	}
	l.b.tokens--
	return true
}

// failureLimiter holds a bucket of allowed failures per client address.
type failureLimiter struct {
	mu          sync.Mutex
	rate, burst float64 // rate <= 0: no limit
	m           map[netip.Prefix]*bucket
}

func newFailureLimiter(perMinute int) *failureLimiter {
	return &failureLimiter{rate: float64(perMinute) / 60, burst: float64(perMinute), m: make(map[netip.Prefix]*bucket)}
}

// allowed reports whether client may cause one more failure.
func (f *failureLimiter) allowed(client netip.Prefix, now time.Time) bool {
	if f.rate <= 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.m[client]
	if !ok {
		return true
	}
	b.refill(now, f.rate, f.burst)
	return b.tokens >= 1
}

// failed counts one failure of client.
func (f *failureLimiter) failed(client netip.Prefix, now time.Time) {
	if f.rate <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.m[client]
	if !ok {
		if len(f.m) >= maxTracked {
			f.sweep(now)
		}
		if len(f.m) >= maxTracked {
			return // the overall bound still holds for the untracked
		}
		b = &bucket{tokens: f.burst, last: now}
		f.m[client] = b
	}
	b.refill(now, f.rate, f.burst)
	b.tokens = max(b.tokens-1, 0)
}

// sweep forgets addresses whose bucket has refilled: they failed long
// enough ago to be no different from new ones.
func (f *failureLimiter) sweep(now time.Time) {
	for k, b := range f.m {
		if b.refill(now, f.rate, f.burst); b.tokens >= f.burst {
			delete(f.m, k)
		}
	}
}

// initLimits sets the flood limits from opts, defaults for zero values.
func (v *Verifier) initLimits(opts Options) {
	v.trusted = opts.TrustedProxies
	v.negTTL = opts.NegativeTTL
	if v.negTTL == 0 {
		v.negTTL = DefaultNegativeTTL
	}
	v.rejected = newCache(maxTracked)
	v.known = newCache(knownSize)
	perMinute := opts.FailuresPerMinute
	if perMinute == 0 {
		perMinute = DefaultFailuresPerMinute
	}
	v.failures = newFailureLimiter(perMinute)
	rate, burst := opts.EndpointRate, opts.EndpointBurst
	if rate == 0 {
		rate = DefaultEndpointRate
	}
	if burst <= 0 {
		burst = DefaultEndpointBurst
	}
	v.calls = newLimiter(rate, burst)
}

// verifyUncached decides a token that is neither static nor cached as
// valid: a token rejected lately is refused from memory, a client address
// that failed too often waits, and the endpoints are asked once for all
// concurrent requests with the token. A token valid within knownFor skips
// the address limit (and, in verifyRemote, the overall bound).
func (v *Verifier) verifyUncached(ctx context.Context, key [32]byte, token string) (Token, error) {
	now := v.now()
	if _, ok := v.rejected.get(key, now); ok {
		return Token{}, fmt.Errorf("verify: rejected lately: %w", ErrInvalidToken)
	}
	client, hasClient := clientOf(ctx)
	if _, known := v.known.get(key, now); !known && hasClient && !v.failures.allowed(client, now) {
		v.log.Warn("client address rate-limited after failed token checks", "client", client.String())
		return Token{}, fmt.Errorf("verify: %s: %w", client, ErrRateLimited)
	}
	t, err := v.flights.do(ctx, key, func() (Token, error) {
		return v.verifyRemote(ctx, key, token)
	})
	if err != nil && hasClient && errors.Is(err, ErrInvalidToken) {
		v.failures.failed(client, v.now())
	}
	return t, err
}

// reject remembers, for NegativeTTL, that the endpoint rejected a token,
// and forgets that it was ever valid.
func (v *Verifier) reject(key [32]byte) {
	v.known.del(key)
	if v.negTTL > 0 {
		now := v.now()
		v.rejected.put(key, Token{}, now.Add(v.negTTL), now)
	}
}
