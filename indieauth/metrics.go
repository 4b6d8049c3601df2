package indieauth

import (
	"errors"
	"spano/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of spano_token_verifications_total: one per
// sentinel of Verify, so an operator can tell bad tokens (invalid,
// forbidden) from a broken token endpoint (unavailable, misconfigured).
const (
	resultOK            = "ok"
	resultNoToken       = "no_token"
	resultInvalid       = "invalid"
	resultForbidden     = "forbidden"
	resultUnavailable   = "unavailable"
	resultMisconfigured = "misconfigured"
	resultRateLimited   = "rate_limited"
	resultError         = "error"
)

// metrics are the Verifier's counters. They exist even without a
// Registerer, so the code that counts needs no nil checks.
type metrics struct {
	verifications *prometheus.CounterVec
	cache         *prometheus.CounterVec
	// The series, resolved once: Verify runs per request, and a label
	// lookup would cost more than the rest of a cached verification.
	byResult            map[string]prometheus.Counter
	cacheHit, cacheMiss prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spano_token_verifications_total",
			Help: "Token verifications by result (ok, no_token, invalid, forbidden, unavailable, misconfigured, rate_limited, error).",
		}, []string{"result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spano_token_cache_lookups_total",
			Help: "Lookups of non-static tokens in the verification cache (hit, miss); a miss asks an endpoint.",
		}, []string{"result"}),
	}
	if reg != nil {
		var err error
		if m.verifications, err = promreg.Register(reg, m.verifications); err != nil {
			return nil, err
		}
		if m.cache, err = promreg.Register(reg, m.cache); err != nil {
			return nil, err
		}
	}
	// Every series exists from the start, so dashboards see zeros, not gaps.
	m.byResult = make(map[string]prometheus.Counter)
	for _, r := range []string{resultOK, resultNoToken, resultInvalid, resultForbidden, resultUnavailable, resultMisconfigured, resultRateLimited, resultError} {
		m.byResult[r] = m.verifications.WithLabelValues(r)
	}
	m.cacheHit = m.cache.WithLabelValues("hit")
	m.cacheMiss = m.cache.WithLabelValues("miss")
	return m, nil
}

// verified counts one Verify by the sentinel its error wraps.
func (m *metrics) verified(err error) {
	result := resultError
	switch {
	case err == nil:
		result = resultOK
	case errors.Is(err, ErrNoToken):
		result = resultNoToken
	case errors.Is(err, ErrInvalidToken):
		result = resultInvalid
	case errors.Is(err, ErrForbidden):
		result = resultForbidden
	case errors.Is(err, ErrUnavailable):
		result = resultUnavailable
	case errors.Is(err, ErrMisconfigured):
		result = resultMisconfigured
	case errors.Is(err, ErrRateLimited):
		result = resultRateLimited
	}
	m.byResult[result].Inc()
}

// cacheLookup counts one lookup in the cache.
func (m *metrics) cacheLookup(hit bool) {
	if hit {
		m.cacheHit.Inc()
		return
	}
	m.cacheMiss.Inc()
}
