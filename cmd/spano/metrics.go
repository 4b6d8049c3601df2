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

// repoGauges report, at each scrape, whether the remote refuses a commit
// for good (spano unblock drops it) and how big the media in the
// repository is against repo.warn_size.
func repoGauges(r *repo.Repo, size *repo.SizeWarning) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "spano_push_blocked",
			Help: "1 while the remote refuses a commit for a reason that will not change (see the log; spano unblock).",
		}, func() float64 {
			if _, _, ok := r.Blocked(); ok {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "spano_repo_media_bytes",
			Help: "Bytes of media on the branch, as last measured.",
		}, func() float64 { return float64(size.Total()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "spano_repo_media_warn_bytes",
			Help: "repo.warn_size: the size past which spano warns (0: off).",
		}, func() float64 { return float64(size.Limit()) }),
	}
}
