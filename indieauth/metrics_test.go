package indieauth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics verifies a mix of tokens against a real introspection
// endpoint and checks that each verification is counted once under its
// result, and each cache lookup as a hit or a miss.
func TestMetrics(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.FormValue("token") {
		case "good":
			jsonReply(200, `{"active":true,"me":"https://example.com/","scope":"media"}`)(w, r)
		case "elsewhere":
			jsonReply(200, `{"active":true,"me":"https://other.example/","scope":"media"}`)(w, r)
		case "broken":
			jsonReply(502, `bad gateway`)(w, r)
		default:
			jsonReply(200, `{"active":false}`)(w, r)
		}
	})
	reg := prometheus.NewPedanticRegistry()
	v := newVerifier(t, Options{
		IntrospectionEndpoint: e.URL, CacheTTL: time.Minute, Registerer: reg,
		Static: []StaticToken{{SHA256: sha("static"), Scope: "media"}},
	})
	for _, tok := range []string{
		"static", "static", // static tokens never touch the cache
		"good", "good", "good", // one miss, then hits
		"revoked",       // miss, invalid
		"elsewhere",     // miss, forbidden (and cached: the answer was valid)
		"broken",        // miss, unavailable
		"",              // no token
		"bad token\x00", // malformed: invalid before any lookup
	} {
		_, _ = v.Verify(context.Background(), tok)
	}

	tests := []struct {
		name   string
		metric *prometheus.CounterVec
		label  string
		want   float64
	}{
		{name: "ok", metric: v.metrics.verifications, label: "ok", want: 5},
		{name: "invalid", metric: v.metrics.verifications, label: "invalid", want: 2},
		{name: "forbidden", metric: v.metrics.verifications, label: "forbidden", want: 1},
		{name: "unavailable", metric: v.metrics.verifications, label: "unavailable", want: 1},
		{name: "no token", metric: v.metrics.verifications, label: "no_token", want: 1},
		{name: "cache hits", metric: v.metrics.cache, label: "hit", want: 2},
		{name: "cache misses", metric: v.metrics.cache, label: "miss", want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testutil.ToFloat64(tt.metric.WithLabelValues(tt.label)); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.label, got, tt.want)
			}
		})
	}
	if got, want := e.calls.Load(), int64(4); got != want {
		t.Errorf("endpoint calls = %d, want %d (one per cache miss)", got, want)
	}
	// The registry exports what was counted, and passes its own consistency checks.
	// Every result is exported, at zero when it never happened.
	if n, err := testutil.GatherAndCount(reg, "spano_token_verifications_total", "spano_token_cache_lookups_total"); err != nil || n != 10 {
		t.Errorf("gathered series = %d, %v; want 10 (8 results + hit + miss)", n, err)
	}
	if got := testutil.ToFloat64(v.metrics.verifications.WithLabelValues("misconfigured")); got != 0 {
		t.Errorf("misconfigured = %v, want 0", got)
	}
}

// TestMetricsSharedRegistry: a Verifier rebuilt on the same registry (a
// config reload, a second test) keeps counting on the registered series
// instead of failing New.
func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := Options{Static: []StaticToken{{SHA256: sha("static"), Scope: "media"}}, Registerer: reg}
	first := newVerifier(t, opts)
	second := newVerifier(t, opts)
	for _, v := range []*Verifier{first, second} {
		if _, err := v.Verify(context.Background(), "static"); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := testutil.ToFloat64(second.metrics.verifications.WithLabelValues("ok")), 2.0; got != want {
		t.Errorf("ok = %v, want %v", got, want)
	}
}
