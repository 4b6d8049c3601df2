package hooks

import (
	"spano/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of spano_hook_runs_total.
const (
	resultOK      = "ok"
	resultVeto    = "veto"    // an upload hook rejected the upload
	resultError   = "error"   // could not run, non-zero exit, non-2xx after retries
	resultTimeout = "timeout" // the hook's timeout fired (on the last attempt)
	resultDropped = "dropped" // never delivered: queue full or shutdown
)

// metrics are the hook counters; they exist even without a Registerer so
// the code that counts needs no nil checks.
type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spano_hook_runs_total",
			Help: "Hook deliveries by final result (ok, veto, error, timeout, dropped).",
		}, []string{"hook", "event", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "spano_hook_duration_seconds",
			Help:    "Duration of one hook run (one webhook attempt).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"hook", "event"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.runs, err = promreg.Register(reg, m.runs); err != nil {
		return nil, err
	}
	if m.duration, err = promreg.Register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// count adds one delivery of ev to h with its final result.
func (r *Runner) count(h *hook, ev Event, result string) {
	r.metrics.runs.WithLabelValues(h.Name, ev.Event, result).Inc()
}
