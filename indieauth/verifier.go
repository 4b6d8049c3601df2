package indieauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// endpointTimeout bounds one call to an endpoint and one discovery
	// step: a slow endpoint is an unavailable one.
	endpointTimeout = 5 * time.Second
	// maxRedirects is how many redirects our own client follows.
	maxRedirects = 3
	// maxTokenLen rejects absurd tokens before they cost an endpoint call.
	maxTokenLen = 4096
	// defaultCacheSize and defaultRefreshEvery stand in for zero Options.
	defaultCacheSize    = 10000
	defaultRefreshEvery = time.Hour
	// retryFirst is how soon a failed discovery is retried; the delay
	// doubles up to RefreshEvery.
	retryFirst = 10 * time.Second
)

// StaticToken is a token accepted without asking any endpoint, stored as
// the hex SHA-256 of the token so that the config file holds no secret.
// Its me is Options.Me.
type StaticToken struct {
	SHA256 string // hex digest of the token
	Scope  string // space- or comma-separated scopes
}

// Options configure a Verifier; they mirror the auth keys of the config.
type Options struct {
	Me                    string           // auth.me: the only site whose tokens are accepted
	Static                []StaticToken    // auth.tokens
	TokenEndpoint         string           // auth.token_endpoint: legacy GET verification
	IntrospectionEndpoint string           // auth.introspection_endpoint: POST token=…
	IntrospectionBearer   string           // auth.introspection_bearer; "" sends the token itself
	Discover              bool             // auth.discover: find endpoints from Me when none is configured
	CacheTTL              time.Duration    // auth.cache_ttl; 0 caches nothing
	CacheSize             int              // most cached tokens; 0 means 10000
	HTTPClient            *http.Client     // nil: a client with a 5 s timeout following at most 3 redirects; a given one is used as it is
	Logger                *slog.Logger     // nil: no logging
	Now                   func() time.Time // nil: time.Now; tests inject a clock for expiry and the cache
	RefreshEvery          time.Duration    // rediscovery period; 0 means 1 h
	// Registerer receives spano_token_verifications_total and
	// spano_token_cache_lookups_total; nil counts without exporting.
	Registerer prometheus.Registerer

	// Limits on a flood of bad tokens. None of them ever holds back a
	// static token, a cached valid one, or one that was valid within a
	// week.

	// NegativeTTL is how long a token the endpoint rejected is refused
	// without asking again; 0 means DefaultNegativeTTL, negative none.
	NegativeTTL time.Duration
	// FailuresPerMinute is how many failed verifications a client address
	// (an IPv6 /64) may cause a minute before it gets ErrRateLimited; 0
	// means DefaultFailuresPerMinute, negative no limit. The address is
	// the one Middleware records.
	FailuresPerMinute int
	// EndpointRate and EndpointBurst bound calls to the endpoints overall
	// (per second, at once); over it a token gets ErrUnavailable. 0 means
	// the defaults, a negative rate no bound.
	EndpointRate  float64
	EndpointBurst int
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client; nil trusts none, so the connection's peer is the client.
	TrustedProxies []netip.Prefix
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	me        string // canonical Options.Me
	static    []staticToken
	bearer    string
	discover  bool
	configEps endpoints
	eps       atomic.Pointer[endpoints] // nil while discovery has not succeeded
	client    *http.Client
	log       *slog.Logger
	now       func() time.Time
	ttl       time.Duration
	cache     *cache
	flights   flightGroup
	metrics   *metrics

	negTTL   time.Duration
	rejected *cache // tokens the endpoint rejected, for negTTL
	known    *cache // tokens that were valid within knownFor
	failures *failureLimiter
	calls    *limiter
	trusted  []netip.Prefix
}

type staticToken struct {
	digest []byte
	scopes []string
}

// endpoints are the remote ways to verify a token, configured or discovered.
type endpoints struct {
	introspection string
	token         string
}

// New checks the options and returns a Verifier. When Discover is set and
// no endpoint is configured it discovers the endpoints from Me before it
// returns, and again every RefreshEvery until ctx ends. A failed discovery
// is logged, not returned: tokens that need an endpoint then get
// ErrUnavailable until a later attempt succeeds, while static tokens keep
// working.
func New(ctx context.Context, opts Options) (*Verifier, error) {
	me, err := CanonicalMe(opts.Me)
	if err != nil {
		return nil, fmt.Errorf("indieauth: auth.me: %w", err)
	}
	v := &Verifier{
		me:       me,
		bearer:   opts.IntrospectionBearer,
		log:      opts.Logger,
		now:      opts.Now,
		ttl:      opts.CacheTTL,
		discover: opts.Discover && opts.TokenEndpoint == "" && opts.IntrospectionEndpoint == "",
		configEps: endpoints{
			introspection: opts.IntrospectionEndpoint,
			token:         opts.TokenEndpoint,
		},
	}
	v.client = endpointClient(opts.HTTPClient)
	v.initLimits(opts)
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	v.log = v.log.With("system", "indieauth")
	if v.now == nil {
		v.now = time.Now
	}
	size := opts.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	v.cache = newCache(size)
	if v.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("indieauth: metrics: %w", err)
	}
	v.flights.m = make(map[[sha256.Size]byte]*flight)

	if v.static, err = staticTokens(opts.Static); err != nil {
		return nil, err
	}
	for _, ep := range []struct{ key, url string }{
		{"auth.introspection_endpoint", opts.IntrospectionEndpoint},
		{"auth.token_endpoint", opts.TokenEndpoint},
	} {
		if ep.url == "" {
			continue
		}
		if err := checkEndpoint(ep.url); err != nil {
			return nil, fmt.Errorf("indieauth: %s: %w", ep.key, err)
		}
	}
	switch {
	case !v.discover && v.configEps == (endpoints{}) && len(v.static) == 0:
		return nil, errors.New("indieauth: no static token, no endpoint and discovery off: no token could ever be accepted")
	case !v.discover:
		eps := v.configEps
		v.eps.Store(&eps)
	default:
		every := opts.RefreshEvery
		if every <= 0 {
			every = defaultRefreshEvery
		}
		err := v.refresh(ctx)
		go v.refreshLoop(ctx, every, err != nil)
	}
	return v, nil
}

// endpointClient is the client for the endpoints: c (nil: one with
// endpointTimeout), which never takes a token off the endpoint's host on
// a redirect. A given client keeps its transport and timeout.
func endpointClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: endpointTimeout, CheckRedirect: checkRedirect}
	}
	own := *c
	theirs := own.CheckRedirect
	own.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := sameHostWithToken(req, via); err != nil {
			return err
		}
		if theirs != nil {
			return theirs(req, via)
		}
		return defaultCheckRedirect(via)
	}
	return &own
}

// staticTokens reads the auth.tokens list.
func staticTokens(list []StaticToken) ([]staticToken, error) {
	var out []staticToken
	for i, s := range list {
		d, err := hex.DecodeString(strings.TrimSpace(s.SHA256))
		if err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("indieauth: auth.tokens[%d].sha256: want 64 hex characters", i)
		}
		out = append(out, staticToken{digest: d, scopes: splitScope(s.Scope)})
	}
	return out, nil
}

// Mode describes how tokens are verified, for the start-up log.
func (v *Verifier) Mode() string {
	var parts []string
	if n := len(v.static); n == 1 {
		parts = append(parts, "1 static token")
	} else if n > 1 {
		parts = append(parts, fmt.Sprintf("%d static tokens", n))
	}
	var remote []string
	eps := v.eps.Load()
	if eps != nil && eps.introspection != "" {
		remote = append(remote, "introspection "+eps.introspection)
	}
	if eps != nil && eps.token != "" {
		remote = append(remote, "token endpoint "+eps.token)
	}
	switch {
	case v.discover && eps == nil:
		parts = append(parts, "discovery from "+v.me+" (not yet successful)")
	case v.discover:
		parts = append(parts, "discovered from "+v.me+": "+strings.Join(remote, " + "))
	default:
		parts = append(parts, remote...)
	}
	if len(parts) == 0 {
		return "no verification"
	}
	return strings.Join(parts, " + ")
}

// Verify checks a token: static tokens first, then the cache, then the
// introspection endpoint, then the legacy token endpoint. It checks
// validity, expiry and that the token's me is Options.Me; scopes are the
// caller's business (Token.HasAnyScope). Errors wrap the package's
// sentinels.
func (v *Verifier) Verify(ctx context.Context, token string) (Token, error) {
	t, err := v.verify(ctx, token)
	v.metrics.verified(err)
	return t, err
}

func (v *Verifier) verify(ctx context.Context, token string) (Token, error) {
	if token == "" {
		return Token{}, ErrNoToken
	}
	if !wellFormed(token) {
		return Token{}, fmt.Errorf("verify: malformed token: %w", ErrInvalidToken)
	}
	key := sha256.Sum256([]byte(token))
	if t, ok := v.matchStatic(key); ok {
		return t, nil
	}
	t, ok := v.cache.get(key, v.now())
	v.metrics.cacheLookup(ok)
	if !ok {
		var err error
		if t, err = v.verifyUncached(ctx, key, token); err != nil {
			return Token{}, err
		}
	}
	if !t.Expires.IsZero() && !v.now().Before(t.Expires) {
		return Token{}, fmt.Errorf("verify: token expired: %w", ErrInvalidToken)
	}
	if t.Me != v.me {
		if t.Me == "" {
			return Token{}, fmt.Errorf("verify: endpoint named no usable me: %w", ErrForbidden)
		}
		return Token{}, fmt.Errorf("verify: token is for %s: %w", t.Me, ErrForbidden)
	}
	t.Scopes = slices.Clone(t.Scopes) // the cached slice stays ours
	return t, nil
}

// wellFormed accepts what RFC 6750's b64token and real servers' tokens
// have in common: printable ASCII without spaces. Anything else could not
// be sent on in a header anyway.
func wellFormed(token string) bool {
	if len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return false
		}
	}
	return true
}

// matchStatic compares the digest with every static token in constant time.
func (v *Verifier) matchStatic(key [sha256.Size]byte) (Token, bool) {
	match := -1
	for i, s := range v.static {
		if subtle.ConstantTimeCompare(key[:], s.digest) == 1 {
			match = i
		}
	}
	if match < 0 {
		return Token{}, false
	}
	return Token{Me: v.me, Scopes: slices.Clone(v.static[match].scopes)}, true
}

// verifyRemote asks the endpoints about a token that is not cached. It runs
// once per token however many requests wait for it, detached from the
// first request's cancellation so that one impatient client does not fail
// the others. Only a valid answer is cached.
func (v *Verifier) verifyRemote(ctx context.Context, key [sha256.Size]byte, token string) (Token, error) {
	if t, ok := v.cache.get(key, v.now()); ok { // cached while we queued for the flight
		return t, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endpointTimeout)
	defer cancel()
	log := v.log.With("token_id", tokenID(key))
	eps := v.eps.Load()
	switch {
	case eps == nil:
		log.Warn("token endpoints not discovered yet", "me", v.me)
		return Token{}, fmt.Errorf("verify: endpoints not discovered from %s yet: %w", v.me, ErrUnavailable)
	case eps.introspection == "" && eps.token == "":
		// Nothing to ask, so no call is spent: a flood of made-up tokens
		// is refused as invalid, not as an unavailable endpoint.
		return Token{}, fmt.Errorf("verify: not a static token and no endpoint: %w", ErrInvalidToken)
	}
	if _, known := v.known.get(key, v.now()); !known && !v.calls.take(v.now()) {
		log.Warn("too many token checks at once: the token endpoint is spared")
		return Token{}, fmt.Errorf("verify: too many token checks: %w", ErrUnavailable)
	}
	t, err := v.askEndpoints(ctx, log, eps, token)
	if errors.Is(err, ErrInvalidToken) {
		v.reject(key)
	}
	if err != nil {
		return Token{}, err
	}
	now := v.now()
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		log.Debug("token expired", "expired", t.Expires)
		v.reject(key)
		return Token{}, fmt.Errorf("verify: token expired: %w", ErrInvalidToken)
	}
	if t.Me == v.me {
		v.known.put(key, Token{}, now.Add(knownFor), now)
	}
	if v.ttl > 0 {
		until := now.Add(v.ttl)
		if !t.Expires.IsZero() && t.Expires.Before(until) {
			until = t.Expires
		}
		v.cache.put(key, t, until, now)
	}
	return t, nil
}

// askEndpoints tries introspection, then the legacy endpoint. A definite
// answer from introspection ends the search; the legacy endpoint gets its
// turn when introspection is unavailable or refused the token we sent as
// its own credential (a server wanting a credential we lack).
func (v *Verifier) askEndpoints(ctx context.Context, log *slog.Logger, eps *endpoints, token string) (Token, error) {
	if eps.introspection != "" {
		t, err := v.introspect(ctx, log, eps.introspection, token)
		if eps.token == "" || !(errors.Is(err, ErrUnavailable) || errors.Is(err, errRefusedToken)) {
			return t, err
		}
		log.Info("trying the legacy token endpoint after introspection", "error", err)
	}
	return v.verifyLegacy(ctx, log, eps.token, token)
}

// tokenID names a token in logs without revealing it: 8 hex characters of
// its SHA-256.
func tokenID(key [sha256.Size]byte) string {
	return hex.EncodeToString(key[:4])
}
