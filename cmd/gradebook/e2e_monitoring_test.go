package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/internal/prometheustest"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestEndToEndMonitoring runs "gradebook up -monitoring" with the real Prometheus from
// tools/prometheus: through the hub alone, Prometheus finds the registry, log, grading and portal,
// scrapes each on its HTTP port (never grading's gRPC one) and labels the series with the
// service's name, so that up{service="grading"} is 1. The portal's view of grading is there too
// (instances in use, breakers) and the hub's count of passing instances; with grading killed,
// Prometheus sees the portal use none, the breaker series gone, the alert on it raised, grading's
// up at 0 and the instance-down alert pending; started again, grading's up is 1 again. Page views
// show in the request counters of the portal's route and of grading's.
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
	// A teacher's page views show in the counters of the portal's route and of grading's
	// matching one: the scrape reaches real traffic.
	countsBefore := routeCounts(t, base)
	for range 3 {
		if a := do(t, http.MethodGet, s.portal()+"/students/1", "", ""); a.status != http.StatusOK {
			t.Fatalf("GET /students/1: %d %s", a.status, a.body)
		}
	}
	eventually(t, 30*time.Second, func() string {
		now := routeCounts(t, base)
		for _, k := range []string{"portal /students/{id}", "grading /students/{id}"} {
			if now[k] < countsBefore[k]+3 {
				return fmt.Sprintf("%s: %v requests counted, want at least %v", k, now[k], countsBefore[k]+3)
			}
		}
		return ""
	})
	dependencyMetrics(t, base, strings.TrimPrefix(s.grading(), "http://"))
	// The hub counts grading's two registrations (HTTP and gRPC) passing.
	eventually(t, 30*time.Second, func() string {
		samples, err := prometheustest.Query(base, `gradebook_registry_instances{name="grading",status="passing"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 2 || samples[0].Labels["service"] != "registry" {
			return fmt.Sprintf("the hub's passing grading instances in Prometheus: %v, want one series at 2", samples)
		}
		return ""
	})
	// The rules are loaded and evaluated: a recording rule has a value.
	eventually(t, 60*time.Second, func() string {
		samples, err := prometheustest.Query(base, `service_route:gradebook_http_requests:rate1m{service="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) == 0 {
			return "no recorded request rate for grading yet"
		}
		return ""
	})

	// Grading killed (up runs without -restart here): the registry drops it from the passing
	// instances, the portal's Instancer with it, and Prometheus sees the portal use no grading
	// instance, its breakers' series gone, and the alert for it pending (or firing, 30s on).
	gradingArgs := cmdline(t, s.pid("grading"))
	if err := syscall.Kill(s.pid("grading"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 60*time.Second, func() string {
		// Traffic meanwhile, as a teacher would keep clicking: answered 503 once grading is gone.
		_, _ = try(http.MethodGet, s.portal()+"/api/v1/students/1", "", "")
		samples, err := prometheustest.Query(base, `gradebook_dependency_instances{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 0 {
			return fmt.Sprintf("grading instances the portal uses, in Prometheus: %v, want one series at 0", samples)
		}
		breakers, err := prometheustest.Query(base, `gradebook_circuit_breaker_state{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(breakers) != 0 {
			return fmt.Sprintf("breaker series of the killed instance are still exported: %v", breakers)
		}
		alerts, err := prometheustest.Query(base, `ALERTS{alertname="GradebookDependencyUnavailable",dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(alerts) != 1 {
			return fmt.Sprintf("GradebookDependencyUnavailable: %v, want it pending or firing", alerts)
		}
		t.Logf("%v after the kill: grading instances 0, no breaker series, GradebookDependencyUnavailable %s",
			time.Since(killed).Round(100*time.Millisecond), alerts[0].Labels["alertstate"])
		return ""
	})
	downAndBack(t, base, gradingArgs, killed)
}

// downAndBack follows a grading instance killed at killed, whose command line was args, in
// Prometheus: the registry (which lists critical instances too) keeps its target, so up turns 0
// and the instance-down alert goes pending. Grading is then started again as up started it (same
// flags, data and ports): up is 1 again, and the portal uses it again.
func downAndBack(t *testing.T, base string, gradingArgs []string, killed time.Time) {
	t.Helper()
	eventually(t, 60*time.Second, func() string {
		samples, err := prometheustest.Query(base, `up{service="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 0 {
			return fmt.Sprintf(`up{service="grading"} = %v, want one series at 0`, samples)
		}
		alerts, err := prometheustest.Query(base, `ALERTS{alertname="GradebookInstanceDown",service="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(alerts) != 1 {
			return fmt.Sprintf("GradebookInstanceDown for grading: %v, want it pending or firing", alerts)
		}
		t.Logf(`%v after the kill: up{service="grading"} 0, GradebookInstanceDown %s`,
			time.Since(killed).Round(100*time.Millisecond), alerts[0].Labels["alertstate"])
		return ""
	})

	var restartLog testkit.Buffer
	cmd := exec.Command(gradingArgs[0], gradingArgs[1:]...)
	cmd.Stdout, cmd.Stderr = &restartLog, &restartLog
	restart, err := testkit.StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		restart.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("the restarted grading's output:\n%s", restartLog.String())
		}
	})
	restarted := time.Now()
	eventually(t, 60*time.Second, func() string {
		samples, err := prometheustest.Query(base, `up{service="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 1 {
			return fmt.Sprintf(`up{service="grading"} = %v, want one series at 1 again`, samples)
		}
		in, err := prometheustest.Query(base, `gradebook_dependency_instances{dependency="grading",transport="http"}`)
		if err != nil {
			return err.Error()
		}
		if len(in) != 1 || in[0].Value != 1 {
			return fmt.Sprintf("grading instances the portal uses, in Prometheus: %v, want one series at 1 again", in)
		}
		return ""
	})
	t.Logf(`%v after the restart: up{service="grading"} 1, the portal uses it again`, time.Since(restarted).Round(100*time.Millisecond))
}

// routeCounts reads from Prometheus the requests counted per service and route, keyed
// "service route".
func routeCounts(t *testing.T, base string) map[string]float64 {
	t.Helper()
	samples, err := prometheustest.Query(base, `sum by (service, route) (gradebook_http_requests_total)`)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64, len(samples))
	for _, x := range samples {
		out[x.Labels["service"]+" "+x.Labels["route"]] = x.Value
	}
	return out
}

// cmdline is the command line of the process pid, as the kernel keeps it.
func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// TestEndToEndMonitoringBreaker runs "gradebook up -monitoring" with a check interval long enough
// that a killed grading instance stays passing in the registry for a while, as one that fails
// between two checks does: the portal's calls to it fail, its breaker opens, and Prometheus shows
// the breaker open and its openings counted; once the registry's check finds it, the breaker's
// series go and the portal uses no instance.
func TestEndToEndMonitoringBreaker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and the whole system")
	}
	bin := buildGradebook(t)
	promBin := prometheustest.Binary(t) // skips loudly without CI, fails under CI=true
	s := startSystem(t, bin, "-monitoring", "-prometheus-bin", promBin, "-check-interval", "30s")
	base := "http://" + prometheus.Addr("127.0.0.1", prometheus.DefaultPort+s.offset)
	peer := strings.TrimPrefix(s.grading(), "http://")
	scraped(t, s, base, []string{"registry", "log", "grading", "portal"})
	dependencyMetrics(t, base, peer)

	// Killed just after a check, grading stays passing for most of 30s: long enough for the
	// breaker to open and for Prometheus (every 5s) to see it, whenever the hub's checks run.
	checks := healthChecks(t, s.grading())
	eventually(t, 45*time.Second, func() string {
		if n := healthChecks(t, s.grading()); n == checks {
			return fmt.Sprintf("the registry has not checked grading again (%v checks)", n)
		}
		return ""
	})
	if err := syscall.Kill(s.pid("grading"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Reads keep coming, as from a teacher clicking on: each fails fast on the dead instance,
	// which opens GetStudent's breaker well before the registry's next check.
	eventually(t, 60*time.Second, func() string {
		_, _ = try(http.MethodGet, s.portal()+"/api/v1/students/1", "", "")
		samples, err := prometheustest.Query(base, `gradebook_circuit_breaker_state{dependency="grading",method="GetStudent"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 2 || samples[0].Labels["peer"] != peer {
			return fmt.Sprintf("GetStudent's breaker in Prometheus: %v, want one series at 2 (open) for %s", samples, peer)
		}
		opened, err := prometheustest.Query(base, `gradebook_circuit_breaker_transitions_total{dependency="grading",method="GetStudent",to="open"}`)
		if err != nil {
			return err.Error()
		}
		if len(opened) != 1 || opened[0].Value < 1 {
			return fmt.Sprintf("GetStudent's breaker openings in Prometheus: %v, want at least 1", opened)
		}
		t.Logf("%v after the kill: Prometheus shows GetStudent's breaker open, opened %v times",
			time.Since(killed).Round(100*time.Millisecond), opened[0].Value)
		return ""
	})
	// The registry's check (every 30s) finds it dead: the portal stops using it.
	eventually(t, 90*time.Second, func() string {
		samples, err := prometheustest.Query(base, `gradebook_dependency_instances{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value != 0 {
			return fmt.Sprintf("grading instances the portal uses: %v, want 0", samples)
		}
		breakers, err := prometheustest.Query(base, `gradebook_circuit_breaker_state{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(breakers) != 0 {
			return fmt.Sprintf("breaker series of the dead instance are still exported: %v", breakers)
		}
		return ""
	})
	t.Logf("%v after the kill: no grading instance in use, its breaker series gone", time.Since(killed).Round(100*time.Millisecond))
}

// healthChecks is how many GET /health the grading instance at base has answered, from its own
// /metrics: the registry's checks.
func healthChecks(t *testing.T, base string) float64 {
	t.Helper()
	a := do(t, http.MethodGet, base+"/metrics", "", "")
	var n float64
	for line := range strings.Lines(a.body) {
		if strings.HasPrefix(line, "gradebook_http_requests_total{") && strings.Contains(line, `route="/health"`) {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:]), 64)
			if err != nil {
				t.Fatalf("grading's /metrics: %q: %v", line, err)
			}
			n += v
		}
	}
	return n
}

// dependencyMetrics waits until Prometheus has the portal's view of grading: one instance in use,
// at peer, and its breakers closed.
func dependencyMetrics(t *testing.T, base, peer string) {
	t.Helper()
	eventually(t, 30*time.Second, func() string {
		samples, err := prometheustest.Query(base, `gradebook_dependency_instances{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(samples) != 1 || samples[0].Value < 1 || samples[0].Labels["service"] != "portal" || samples[0].Labels["transport"] != "http" {
			return fmt.Sprintf(`gradebook_dependency_instances{dependency="grading"} = %v, want one series from the portal at 1 or more`, samples)
		}
		breakers, err := prometheustest.Query(base, `gradebook_circuit_breaker_state{dependency="grading"}`)
		if err != nil {
			return err.Error()
		}
		if len(breakers) != 4 {
			return fmt.Sprintf("breakers in Prometheus: %v, want one per method", breakers)
		}
		for _, b := range breakers {
			if b.Value != 0 || b.Labels["peer"] != peer {
				return fmt.Sprintf("breaker %v, want closed (0) for %s", b, peer)
			}
		}
		return ""
	})
}

// TestEndToEndMonitoringOnConsul runs "gradebook up -monitoring" on a real Consul agent: the same
// configuration, only its server changed, finds the same services there, and the portal's
// instance count and breakers are the same metrics on Consul.
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
	dependencyMetrics(t, base, strings.TrimPrefix(s.grading(), "http://"))
	gradingArgs := cmdline(t, s.pid("grading"))
	if err := syscall.Kill(s.pid("grading"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	downAndBack(t, base, gradingArgs, time.Now())
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
