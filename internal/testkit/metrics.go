package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricValue reads one counter or gauge sample named name from g: the first whose labels
// include every name/value pair in labels. It is 0 when there is none, as an untouched counter is.
func MetricValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// ShipperDropped is how many entries the log shipper counting on g has dropped, for any reason
// (gradebook_log_shipper_dropped_entries_total over its reasons).
func ShipperDropped(t testing.TB, g prometheus.Gatherer) float64 {
	t.Helper()
	n := 0.0
	for _, reason := range []string{"queue_full", "rejected", "closed"} {
		n += MetricValue(t, g, "gradebook_log_shipper_dropped_entries_total", "reason", reason)
	}
	return n
}
