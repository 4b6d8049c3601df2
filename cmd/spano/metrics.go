package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"spano/repo"
)

// newRegistry is the registry /metrics serves. It is spano's own rather
// than Prometheus's global default, so that only what serve builds is
// exported and tests can run servers side by side. Each component
// registers its metrics on it through its Options; the Go runtime and the
// process are added here.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "spano_build_info",
			Help:        "Always 1; the version label says which spano is running.",
			ConstLabels: prometheus.Labels{"version": versionString()},
		}, func() float64 { return 1 }),
	)
	return reg
}

// pendingGauge reports the commits waiting to be pushed, read from the
// repository at each scrape: a number that keeps growing means pushes
// fail (see spano_pushes_total{result="failed"} and the log).
func pendingGauge(r *repo.Repo) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spano_commits_pending",
		Help: "Commits on the branch that the remote does not have yet.",
	}, func() float64 { return float64(r.Pending()) })
}
