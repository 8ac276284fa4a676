package registry

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
)

func TestRestartKeepsCatalog(t *testing.T) {
	data := t.TempDir()
	h := startHub(t, "-data", data)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, 200)
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "grading", ID: "grading-1", Port: 6000, Tags: []string{"a"},
		Checks: api.AgentServiceChecks{{HTTP: tg.URL, Interval: "100ms"}, {CheckID: "beat", TTL: "1m", Status: api.HealthPassing}}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "passing", func() bool { return checkStatus(t, c, "service:grading-1:1") == api.HealthPassing })
	before := h.cat.Index()
	_, healthBefore, err := c.Health().Service("grading", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Stop()
	hitsAtStop := tg.hits.Load()

	h2 := startHub(t, "-data", data)
	c2 := consulClient(t, h2.URL(), "")
	svc, meta, err := c2.Agent().Service("grading-1", nil)
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if svc.Port != 6000 || svc.Tags[0] != "a" {
		t.Errorf("service after restart = %+v", svc)
	}
	if meta.LastIndex < before {
		t.Errorf("index went back from %d to %d across a restart", before, meta.LastIndex)
	}
	// A client blocked on the old index gets an answer at once: the reloaded catalog is news.
	_, healthAfter, err := c2.Health().Service("grading", "", false, &api.QueryOptions{WaitIndex: healthBefore.LastIndex, WaitTime: 10 * time.Second})
	if err != nil || healthAfter.LastIndex <= healthBefore.LastIndex {
		t.Errorf("health index across a restart: %d then %v (%v)", healthBefore.LastIndex, healthAfter, err)
	}
	if got := checkStatus(t, c2, "beat"); got != api.HealthPassing {
		t.Errorf("TTL check status after restart = %q, want passing", got)
	}
	testkit.Eventually(t, 3*time.Second, "checks running again", func() bool { return tg.hits.Load() > hitsAtStop })
}

func TestCorruptCatalogIsAnError(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, catalogFile)
	if err := os.WriteFile(path, []byte(`{"Version":1,"Services":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig([]string{"-listen", "127.0.0.1:0", "-data", data}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("New with a corrupt catalog: %v; want an error naming %s", err, path)
	}
}

// hubProcess is the registryservice binary, running.
type hubProcess struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
}

// startBinary starts the built registryservice and waits for its "serving" line.
func startBinary(t *testing.T, bin string, args ...string) *hubProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &hubProcess{cmd: cmd, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		// Owned by the process: it ends when the process's stderr closes.
		re := regexp.MustCompile(`msg=serving listen=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		t.Fatalf("registryservice %v exited before serving", args)
	case <-time.After(10 * time.Second):
		t.Fatalf("registryservice %v did not start within 10s", args)
	}
	waitHealthy(t, "http://"+p.addr)
	return p
}

func (p *hubProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func TestBinarySurvivesSIGKILL(t *testing.T) {
	bin := testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/registryservice")

	t.Run("same data keeps the catalog", func(t *testing.T) {
		data := t.TempDir()
		p := startBinary(t, bin, "-listen", "127.0.0.1:0", "-data", data)
		c := consulClient(t, "http://"+p.addr, "")
		if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "grading", ID: "grading-9", Port: 6009,
			Check: &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing}}); err != nil {
			t.Fatal(err)
		}
		_, meta, err := c.Agent().Service("grading-9", nil)
		if err != nil {
			t.Fatal(err)
		}
		p.kill() // no shutdown: only what was on disk before the 200 survives

		p2 := startBinary(t, bin, "-listen", p.addr, "-data", data)
		c2 := consulClient(t, "http://"+p2.addr, "")
		entries, meta2, err := c2.Health().Service("grading", "", true, nil)
		if err != nil || len(entries) != 1 || entries[0].Service.ID != "grading-9" {
			t.Fatalf("after SIGKILL and restart: %v, %v", entries, err)
		}
		if meta2.LastIndex < meta.LastIndex {
			t.Errorf("index went back from %d to %d", meta.LastIndex, meta2.LastIndex)
		}
	})

	t.Run("empty data: a service re-registers by itself", func(t *testing.T) {
		p := startBinary(t, bin, "-listen", "127.0.0.1:0", "-data", t.TempDir())
		hubURL := "http://" + p.addr
		rt, err := service.New(config.Common{Listen: "127.0.0.1:0", Registry: hubURL, Name: "probe", Data: t.TempDir(),
			LogLevel: "error", CheckInterval: 200 * time.Millisecond}, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- rt.Serve(ctx) }()
		defer func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("runtime: %v", err)
			}
		}()
		c := consulClient(t, hubURL, "")
		passing := func() bool {
			entries, _, err := c.Health().Service("probe", "", true, nil)
			return err == nil && len(entries) == 1
		}
		testkit.Eventually(t, 10*time.Second, "the runtime registered and passing", passing)

		p.kill()
		p2 := startBinary(t, bin, "-listen", p.addr, "-data", t.TempDir())
		begin := time.Now()
		testkit.Eventually(t, 10*time.Second, "the runtime registered again", passing)
		t.Logf("re-registered and passing %v after the empty hub came up", time.Since(begin))
		_ = p2
	})
}

// A course-protocol registration is saved under the key "Seed", the name older hubs saved it
// under, so that a hub loads the catalog an older one wrote and the other way round.
func TestCourseRegistrationKeepsItsStoredKey(t *testing.T) {
	c := newCatalog()
	reg := &courseRegistration{ServiceName: "Portal", ServiceURL: "http://127.0.0.1:5000",
		HeartbeatURL: "http://127.0.0.1:5000/heartbeat"}
	svc, checks, err := courseService(reg, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.register(svc, checks); err != nil {
		t.Fatal(err)
	}
	snap, err := c.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(snap), `"Seed":{"ServiceName":"Portal"`) {
		t.Fatalf("the saved catalog has no \"Seed\" record for the course-protocol service:\n%s", snap)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, catalogFile), snap, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := loadCatalog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := loaded.service(svc.Service.ID); !ok || got.Course == nil || got.Course.ServiceURL != reg.ServiceURL {
		t.Errorf("reloaded course-protocol service = %+v (found %v)", got, ok)
	}
}
