package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/internal/testkit"
)

// fakeRegistry records what a service registers and deregisters, and knows every registered ID.
type fakeRegistry struct {
	*httptest.Server
	mu           sync.Mutex
	regs         map[string]api.AgentServiceRegistration
	deregistered []string
}

func startFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{regs: map[string]api.AgentServiceRegistration{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consul-Index", "1")
		w.Header().Set("X-Consul-LastContact", "0")
		w.Header().Set("X-Consul-KnownLeader", "true")
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/v1/agent/service/register":
			var reg api.AgentServiceRegistration
			if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.regs[reg.ID] = reg
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/")
			delete(f.regs, id)
			f.deregistered = append(f.deregistered, id)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/agent/service/"):
			reg, ok := f.regs[strings.TrimPrefix(r.URL.Path, "/v1/agent/service/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(api.AgentService{ID: reg.ID, Service: reg.Name, Tags: reg.Tags, Address: reg.Address, Port: reg.Port})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRegistry) registrations() map[string]api.AgentServiceRegistration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]api.AgentServiceRegistration, len(f.regs))
	for id, r := range f.regs {
		out[id] = r
	}
	return out
}

// TestRunServesGRPC runs the service with -grpc-listen on port 0: the gRPC endpoint serves the
// same data as HTTP, its health service reports SERVING, and it is registered as a second
// "grading" instance, tagged grpc, at the port the kernel chose, with a gRPC check; the HTTP
// registration is tagged http. Shutdown deregisters both and closes the port.
func TestRunServesGRPC(t *testing.T) {
	reg := startFakeRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", t.TempDir(),
			"-registry", reg.URL, "-check-interval", "1s"}, nil, &stderr)
	}()
	addr := testkit.ServingAddr(t, &stderr, 10*time.Second)

	var grpcReg, httpReg api.AgentServiceRegistration
	deadline := time.Now().Add(10 * time.Second)
	for {
		regs := reg.registrations()
		var ok bool
		for id, r := range regs {
			if strings.HasPrefix(id, "grading-grpc-") {
				grpcReg, ok = r, true
			}
		}
		httpReg = regs["grading-"+strings.ReplaceAll(addr, ":", "-")]
		if ok && httpReg.ID != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not both registered: %v\n%s", regs, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	grpcAddr := grpcReg.Address + ":" + strconv.Itoa(grpcReg.Port)
	if grpcReg.Name != "grading" || !slices.Equal(grpcReg.Tags, []string{"grpc"}) || grpcReg.Port == 0 ||
		grpcReg.ID != "grading-grpc-127.0.0.1-"+strconv.Itoa(grpcReg.Port) {
		t.Errorf("gRPC registration = %+v", grpcReg)
	}
	if len(grpcReg.Checks) != 1 || grpcReg.Checks[0].GRPC != grpcAddr || grpcReg.Checks[0].GRPCUseTLS ||
		grpcReg.Checks[0].DeregisterCriticalServiceAfter != "1m" || grpcReg.Checks[0].Interval != "1s" {
		t.Errorf("gRPC registration's checks = %+v", grpcReg.Checks)
	}
	if httpReg.Name != "grading" || !slices.Contains(httpReg.Tags, "http") || slices.Contains(httpReg.Tags, "grpc") {
		t.Errorf("HTTP registration = %+v", httpReg)
	}
	// Both say which data they serve, so that no consumer balances across different stores.
	if id := httpReg.Meta[grading.StoreIDMeta]; !strings.HasPrefix(id, "bolt-") || grpcReg.Meta[grading.StoreIDMeta] != id ||
		httpReg.Meta[grading.StoreKindMeta] != "bolt" || grpcReg.Meta[grading.StoreKindMeta] != "bolt" {
		t.Errorf("store metadata: HTTP %v, gRPC %v; want the same bolt store ID on both", httpReg.Meta, grpcReg.Meta)
	}

	conn, err := gradingclient.DialGRPC(grpcAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	students, err := gradingclient.MakeGRPCClientEndpoints(conn).ListStudents(ctx)
	if err != nil || len(students) != 5 {
		t.Errorf("ListStudents over gRPC = %d students, %v; want the five demo students", len(students), err)
	}
	for _, service := range []string{"", "gradebook.grading.v1.Grading"} {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health Check(%q) = %v, %v; want SERVING", service, resp, err)
		}
	}

	stopRun(t, cancel, done, &stderr, 20*time.Second)
	reg.mu.Lock()
	deregistered := slices.Clone(reg.deregistered)
	reg.mu.Unlock()
	if !slices.Contains(deregistered, grpcReg.ID) || !slices.Contains(deregistered, httpReg.ID) {
		t.Errorf("deregistered %v; want both %s and %s", deregistered, grpcReg.ID, httpReg.ID)
	}
	if ln, err := net.Listen("tcp", grpcAddr); err != nil {
		t.Errorf("the gRPC port is still taken after shutdown: %v", err)
	} else {
		ln.Close()
	}
}

func TestGRPCAdvertise(t *testing.T) {
	for _, tc := range []struct{ listen, advertise, bound, want string }{
		{"127.0.0.1:6000", "127.0.0.1:6000", "127.0.0.1:6001", "127.0.0.1:6001"},
		{"127.0.0.1:0", "127.0.0.1:41234", "127.0.0.1:41235", "127.0.0.1:41235"},
		{"0.0.0.0:6000", "grading:6000", "0.0.0.0:6001", "grading:6001"},
		{"0.0.0.0:6000", "0.0.0.0:6000", "[::]:6001", "0.0.0.0:6001"},
		{"127.0.0.1:6000", "127.0.0.1:6000", "127.0.0.2:6001", "127.0.0.2:6001"},
		{"127.0.0.1:6000", "10.0.0.5:6000", "127.0.0.1:6001", "10.0.0.5:6001"},
	} {
		if got := grpcAdvertise(tc.listen, tc.advertise, tc.bound); got != tc.want {
			t.Errorf("grpcAdvertise(%s, %s, %s) = %s, want %s", tc.listen, tc.advertise, tc.bound, got, tc.want)
		}
	}
}
