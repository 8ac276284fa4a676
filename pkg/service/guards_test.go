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
