package registry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

// hubRequest sends one request to the hub and answers its status and body.
func hubRequest(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A heartbeat (or any HTTP check) is fetched by the hub from wherever its registration says, and
// its output is public: the answer's body must not appear anywhere a reader of the hub can see.
func TestCheckOutputsDoNotEchoBodies(t *testing.T) {
	const secret = "s3cr3t-from-a-local-url"
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, secret)
	}))
	t.Cleanup(local.Close)
	h := startHub(t, "-heartbeat-interval", "100ms")
	c := consulClient(t, h.URL(), "")

	// Through the course protocol, as the course's services (not browsers) register.
	svc := newFakeCourseService(t)
	reg := svc.registration("Snooper")
	reg.HeartbeatURL = local.URL + "/private"
	postCourse(t, h.URL(), reg)
	// And through the Consul API.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "snooper2", ID: "snooper2-1", Port: 1,
		Check: &api.AgentServiceCheck{HTTP: local.URL + "/other", Interval: "100ms"}}); err != nil {
		t.Fatal(err)
	}

	var checks map[string]*api.AgentCheck
	testkit.Eventually(t, 5*time.Second, "both checks have run", func() bool {
		var err error
		checks, err = c.Agent().Checks()
		if err != nil {
			return false
		}
		n := 0
		for _, ch := range checks {
			if strings.Contains(ch.Output, local.URL) && strings.Contains(ch.Output, "200 OK") {
				n++
			}
		}
		return n >= 2
	})
	for id, ch := range checks {
		if u, ok := strings.CutPrefix(ch.Name, "Heartbeat "); ok {
			if want := "HTTP GET " + u + ": 200 OK"; ch.Output != want {
				t.Errorf("%s: output %q, want %q", id, ch.Output, want)
			}
		}
	}
	for _, path := range []string{"/v1/agent/checks", "/v1/health/service/Snooper", "/v1/health/service/snooper2", "/"} {
		code, body := hubRequest(t, http.MethodGet, h.URL()+path, "")
		if code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
		if strings.Contains(body, secret) {
			t.Errorf("GET %s shows the body of the checked URL:\n%s", path, body)
		}
	}
}
