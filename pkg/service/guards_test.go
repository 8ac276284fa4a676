package service_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/service"
)

// Every service's handler refuses what a browser on another site could send, in one place:
// cross-origin writes (403), writes with a body not declared JSON (415) except where a route says
// otherwise, and, where the service names its hosts, requests for any other host (421).
func TestHandlerGuards(t *testing.T) {
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: "http://127.0.0.1:1", Name: "guarded", LogLevel: "error", CheckInterval: time.Second}
	rt, err := service.New(cfg, io.Discard, service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	reached := 0
	ok := func(w http.ResponseWriter, r *http.Request) { reached++ }
	rt.Router.HandleFunc("/api/things", ok).Methods(http.MethodPost, http.MethodPut)
	rt.Router.HandleFunc("/form", ok).Methods(http.MethodPost)
	rt.Router.HandleFunc("/line", ok).Methods(http.MethodPost)
	rt.JSONOnlyUnder("/api/", "/line")
	rt.NotJSON(http.MethodPost, "/line")
	hosts, err := httpx.ParseHostList("guarded.example")
	if err != nil {
		t.Fatal(err)
	}
	rt.AllowHosts(hosts)
	h := rt.Handler()

	for _, tc := range []struct {
		name, method, url, contentType, body string
		header                               []string
		want                                 int
	}{
		{"JSON write", http.MethodPost, "http://guarded.example/api/things", "application/json", "{}", nil, 200},
		{"text/plain write", http.MethodPost, "http://guarded.example/api/things", "text/plain", "{}", nil, 415},
		{"body-less PUT", http.MethodPut, "http://guarded.example/api/things", "", "", nil, 200},
		{"form outside JSONOnlyUnder", http.MethodPost, "http://guarded.example/form", "application/x-www-form-urlencoded", "a=b", nil, 200},
		{"NotJSON route under a JSON prefix", http.MethodPost, "http://guarded.example/line", "text/plain", "a line", nil, 200},
		{"cross-site JSON write", http.MethodPost, "http://guarded.example/api/things", "application/json", "{}",
			[]string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site write to a text route", http.MethodPost, "http://guarded.example/line", "text/plain", "a line",
			[]string{"Origin", "http://evil.example"}, 403},
		{"same-origin write", http.MethodPost, "http://guarded.example/form", "application/x-www-form-urlencoded", "a=b",
			[]string{"Origin", "http://guarded.example", "Sec-Fetch-Site", "same-origin"}, 200},
		{"rebound host", http.MethodPost, "http://evil.example/api/things", "application/json", "{}",
			[]string{"Origin", "http://evil.example", "Sec-Fetch-Site", "same-origin"}, 421},
		{"rebound host, read", http.MethodGet, "http://evil.example/health", "", "", nil, 421},
		{"loopback", http.MethodGet, "http://127.0.0.1:9/health", "", "", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reached
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Set(tc.header[i], tc.header[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want >= 400 {
				if !strings.HasPrefix(w.Body.String(), `{"error":"`) {
					t.Errorf("body %q is not a JSON error", w.Body)
				}
				if reached != before {
					t.Error("the route ran")
				}
			}
		})
	}
}

// Every service answers only to its own names, not only the portal: a page on a rebound name
// (evil.example resolving to 127.0.0.1) is same-origin to the browser, so it could otherwise send
// JSON writes to grading, the log service or the hub on a machine without -token. The names are
// -allowed-hosts and the -listen and -advertise hosts, on any port; IP addresses and localhost
// are always answered.
func TestEveryServiceRefusesReboundHosts(t *testing.T) {
	cfg := config.Common{Listen: "127.0.0.1:0", Advertise: "grading-2:6000", AllowedHosts: "grades.example,.intra.example",
		Registry: "http://127.0.0.1:1", Name: "rebind", LogLevel: "error", CheckInterval: time.Second}
	rt, err := service.New(cfg, io.Discard, service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	reached := 0
	rt.Router.HandleFunc("/things", func(http.ResponseWriter, *http.Request) { reached++ }).Methods(http.MethodPost)
	h := rt.Handler()
	for host, want := range map[string]int{
		"evil.example":           http.StatusMisdirectedRequest,
		"evil.example:6000":      http.StatusMisdirectedRequest,
		"grading-2.evil.example": http.StatusMisdirectedRequest,
		"grading-2:6000":         http.StatusOK, // the advertised name, as health checks and peers dial it
		"grading-2:16000":        http.StatusOK, // the same name through a published port
		"grades.example":         http.StatusOK,
		"a.intra.example:80":     http.StatusOK,
		"127.0.0.1:6000":         http.StatusOK,
		"localhost:6000":         http.StatusOK,
		"[::1]:6000":             http.StatusOK,
	} {
		before := reached
		r := httptest.NewRequest(http.MethodPost, "http://"+host+"/things", strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://"+host)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %s: status %d, want %d: %s", host, w.Code, want, w.Body)
		}
		if want != http.StatusOK && reached != before {
			t.Errorf("Host %s: the route ran", host)
		}
	}

	cfg.AllowedHosts = "http://bad.example"
	if _, err := service.New(cfg, io.Discard, service.WithoutLogShipping()); err == nil || !strings.Contains(err.Error(), "-allowed-hosts") {
		t.Errorf("New with -allowed-hosts %q = %v; want an error naming the flag", cfg.AllowedHosts, err)
	}
}
