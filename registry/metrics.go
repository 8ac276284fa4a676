package registry

import (
	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gradebook/gradebook/pkg/telemetry"
)

// instancesDesc counts the catalog's instances by name and health. Its label is name, not
// service: Prometheus labels every series it scrapes from the hub with service="registry".
var instancesDesc = prometheus.NewDesc(prometheus.BuildFQName(telemetry.Namespace, "registry", "instances"),
	"Registered service instances by service name and health, as Consul's health endpoint sums up an instance's checks: critical if any is critical, else warning if any warns, else passing.",
	[]string{"name", "status"}, nil)

// instanceStatuses are the statuses instancesDesc is exported with, every one for every name, so
// that a count that falls to 0 shows as 0.
var instanceStatuses = []string{api.HealthPassing, api.HealthWarning, api.HealthCritical}

// instancesCollector exports instancesDesc, counted at scrape time.
type instancesCollector struct{ cat *Catalog }

// Describe implements prometheus.Collector.
func (c instancesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- instancesDesc }

// Collect implements prometheus.Collector.
func (c instancesCollector) Collect(ch chan<- prometheus.Metric) {
	for name, counts := range c.cat.instanceHealth() {
		for i, status := range instanceStatuses {
			ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(counts[i]), name, status)
		}
	}
}

// instanceHealth counts, for every name, its instances in the order of instanceStatuses.
func (c *Catalog) instanceHealth() map[string][3]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][3]int, len(c.instances))
	for _, svc := range c.services {
		counts := out[svc.Service.Service]
		counts[c.aggregateLocked(svc)]++
		out[svc.Service.Service] = counts
	}
	return out
}

// aggregateLocked is the index in instanceStatuses of svc's health.
func (c *Catalog) aggregateLocked(svc *serviceState) int {
	worst := 0
	for _, cid := range svc.CheckIDs {
		cs := c.checks[cid]
		if cs == nil {
			continue
		}
		switch cs.Status {
		case api.HealthPassing:
		case api.HealthWarning:
			worst = max(worst, 1)
		default: // critical, or maintenance, which Consul also counts as not passing
			worst = 2
		}
	}
	return worst
}
