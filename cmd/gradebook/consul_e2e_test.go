package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestEndToEndOnConsul runs the same binaries on a real Consul agent instead of the hub: Consul
// registers and checks them, a killed grading goes critical there and the portal says so, and a
// restarted dev agent (which forgets everything) gets every service back by itself.
func TestEndToEndOnConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and the whole system")
	}
	consul := registrytest.NewConsul(t) // skips loudly without CI, fails under CI=true
	registry := "http://" + consul.Addr()
	bin := buildGradebook(t)
	s := startSystem(t, bin, "-registry", registry)
	ours := []string{"log", "grading", "portal"}
	top := t // the restarted grading must outlive the subtest that starts it

	checkStatus := func(name string) (statuses []string) {
		a, err := try(http.MethodGet, registry+"/v1/health/service/"+name, "", "")
		if err != nil {
			return nil
		}
		var entries []struct {
			Checks []struct{ Status, ServiceName string }
		}
		_ = json.Unmarshal([]byte(a.body), &entries)
		for _, e := range entries {
			for _, c := range e.Checks {
				if c.ServiceName == name {
					statuses = append(statuses, c.Status)
				}
			}
		}
		return statuses
	}

	t.Run("every service passing in Consul, no hub", func(t *testing.T) {
		for _, name := range ours {
			if n := passing(t, registry, name); n != registrations(name) {
				t.Errorf("%s: %d passing instances in Consul, want %d", name, n, registrations(name))
			}
		}
		if strings.Contains(s.output(), "started registry") {
			t.Error("up started the hub although -registry was given")
		}
	})

	t.Run("the portal works through the gateway", func(t *testing.T) {
		if a := do(t, http.MethodGet, s.portal()+"/api/v1/students/1", "", ""); a.status != 200 || !strings.Contains(a.body, "Averill") {
			t.Errorf("GET /api/v1/students/1 = %d %s", a.status, a.body)
		}
		if a := do(t, http.MethodGet, s.portal()+"/students", "", ""); a.status != 200 || !strings.Contains(a.body, "Kylee Attwood") {
			t.Errorf("GET /students = %d", a.status)
		}
	})

	t.Run("Consul's UI lists the services", func(t *testing.T) {
		if !registrytest.HaveChromium(t) {
			return
		}
		shot := registrytest.ConsulUIScreenshot(t, registry, append([]string{"consul"}, ours...))
		if len(shot) < 10_000 {
			t.Errorf("screenshot is only %d bytes", len(shot))
		}
	})

	t.Run("grading killed: critical in Consul, 503 in the portal, then back", func(t *testing.T) {
		if err := syscall.Kill(s.pid("grading"), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() string {
			st := checkStatus("grading")
			if len(st) == 0 || st[0] != "critical" {
				return fmt.Sprintf("grading's check in Consul is %v", st)
			}
			return ""
		})
		if a := do(t, http.MethodGet, s.portal()+"/students", "", ""); a.status != 503 || !strings.Contains(strings.ToLower(a.body), "unavailable") {
			t.Errorf("portal page with grading down = %d", a.status)
		}
		// Start it again with the command up printed, as a user would.
		m := regexp.MustCompile(`(?m)^\s+\S*gradebook (grading .*)$`).FindStringSubmatch(s.output())
		if m == nil {
			t.Fatalf("up did not print how to start grading again:\n%s", s.output())
		}
		restarted := exec.Command(bin, strings.Fields(m[1])...)
		restarted.Stdout, restarted.Stderr = os.Stderr, os.Stderr
		if err := restarted.Start(); err != nil {
			t.Fatal(err)
		}
		top.Cleanup(func() {
			_ = restarted.Process.Signal(syscall.SIGTERM)
			_ = restarted.Wait()
		})
		eventually(t, 15*time.Second, func() string {
			if st := checkStatus("grading"); len(st) == 0 || st[0] != "passing" {
				return fmt.Sprintf("grading's check in Consul is %v", st)
			}
			if a, err := try(http.MethodGet, s.portal()+"/students", "", ""); err != nil || a.status != 200 {
				return fmt.Sprintf("portal still answers %d (%v)", a.status, err)
			}
			return ""
		})
	})

	t.Run("a restarted Consul dev agent gets every service back within 15s", func(t *testing.T) {
		consul.Restart()
		begin := time.Now()
		eventually(t, 15*time.Second, func() string {
			for _, name := range ours {
				if n := passing(t, registry, name); n < 1 {
					return name + " is not registered again yet"
				}
			}
			return ""
		})
		t.Logf("all services registered again and passing %v after the agent came back", time.Since(begin).Round(10*time.Millisecond))
	})
}
