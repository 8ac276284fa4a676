package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/internal/prometheustest"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestEndToEndMonitoring runs "gradebook up -monitoring" with the real Prometheus from
// tools/prometheus: through the hub alone, Prometheus finds the registry, log, grading and portal,
// scrapes each on its HTTP port (never grading's gRPC one) and labels the series with the
// service's name, so that up{service="grading"} is 1.
func TestEndToEndMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and the whole system")
	}
	bin := buildGradebook(t)
	promBin := prometheustest.Binary(t) // skips loudly without CI, fails under CI=true
	start := time.Now()
	s := startSystem(t, bin, "-monitoring", "-prometheus-bin", promBin)
	base := "http://" + prometheus.Addr("127.0.0.1", prometheus.DefaultPort+s.offset)
	if !strings.Contains(s.output(), base+"/") {
		t.Errorf("up does not print Prometheus's address, %s:\n%s", base, s.output())
	}
	scraped(t, s, base, []string{"registry", "log", "grading", "portal"})
	t.Logf("every service scraped %v after up started", time.Since(start).Round(100*time.Millisecond))
	// A request through the portal shows in grading's request counter, by service and route.
	if a := do(t, http.MethodGet, s.portal()+"/api/v1/students/1", "", ""); a.status != http.StatusOK {
		t.Fatalf("GET /api/v1/students/1: %d %s", a.status, a.body)
	}
	eventually(t, 30*time.Second, func() string {
		samples, err := prometheustest.Query(base, `sum by (service) (gradebook_http_requests_total{service="grading"})`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value < 1 {
			return fmt.Sprintf("grading's request count in Prometheus: %v", samples)
		}
		return ""
	})
}

// TestEndToEndMonitoringOnConsul runs "gradebook up -monitoring" on a real Consul agent: the same
// configuration, only its server changed, finds the same services there.
func TestEndToEndMonitoringOnConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul, Prometheus and the whole system")
	}
	consul := registrytest.NewConsul(t) // skips loudly without CI, fails under CI=true
	bin := buildGradebook(t)
	promBin := prometheustest.Binary(t)
	s := startSystem(t, bin, "-registry", "http://"+consul.Addr(), "-monitoring", "-prometheus-bin", promBin)
	base := "http://" + prometheus.Addr("127.0.0.1", prometheus.DefaultPort+s.offset)
	scraped(t, s, base, []string{"log", "grading", "portal"})
}

// scraped waits until the Prometheus at base scrapes exactly the services want, each healthy,
// grading on its HTTP port only, and up{service="grading"} is 1.
func scraped(t *testing.T, s *system, base string, want []string) {
	t.Helper()
	grpcPort := ":" + strconv.Itoa(6001+s.offset)
	eventually(t, 60*time.Second, func() string {
		targets, err := prometheustest.Targets(base)
		if err != nil {
			return err.Error()
		}
		var up []string
		for _, tg := range targets {
			if strings.Contains(tg.ScrapeURL, grpcPort) || tg.Labels["instance"] == strings.TrimPrefix(grpcPort, ":") {
				return "Prometheus scrapes grading's gRPC port: " + tg.ScrapeURL
			}
			if tg.Health != "up" {
				return fmt.Sprintf("target %s (%s) is %s: %s", tg.ScrapeURL, tg.Labels["service"], tg.Health, tg.LastError)
			}
			up = append(up, tg.Labels["service"])
		}
		slices.Sort(up)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(up, sorted) {
			return fmt.Sprintf("Prometheus scrapes %v, want %v", up, sorted)
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		samples, err := prometheustest.Query(base, `up{service="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 1 {
			return fmt.Sprintf(`up{service="grading"} = %v, want one series at 1`, samples)
		}
		if got, want := samples[0].Labels["instance"], strings.TrimPrefix(s.grading(), "http://"); got != want {
			return fmt.Sprintf(`up{service="grading"} has instance %q, want %q`, got, want)
		}
		return ""
	})
}
