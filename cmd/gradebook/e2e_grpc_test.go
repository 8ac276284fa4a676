package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestEndToEndOverGRPC runs "gradebook up -grading-transport grpc" on the built-in hub: the
// portal's pages and API answer exactly what grading's own HTTP API answers, the calls really
// travel over gRPC, and the hub shows both of grading's registrations (http and grpc) passing,
// the gRPC one through its grpc.health.v1 check.
func TestEndToEndOverGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	bin := buildGradebook(t)
	s := startSystem(t, bin, "-grading-transport", "grpc")
	testOverGRPC(t, s, s.registry())
}

// TestEndToEndOverGRPCOnConsul is TestEndToEndOverGRPC on a real Consul agent, which runs the
// gRPC health check itself.
func TestEndToEndOverGRPCOnConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and the whole system")
	}
	consul := registrytest.NewConsul(t) // skips loudly without CI, fails under CI=true
	registry := "http://" + consul.Addr()
	bin := buildGradebook(t)
	s := startSystem(t, bin, "-registry", registry, "-grading-transport", "grpc")
	testOverGRPC(t, s, registry)
}

func testOverGRPC(t *testing.T, s *system, registry string) {
	t.Run("both grading endpoints registered and passing", func(t *testing.T) {
		eventually(t, 10*time.Second, func() string {
			a := do(t, http.MethodGet, registry+"/v1/health/service/grading?passing=1", "", "")
			var entries []struct {
				Service struct {
					ID   string
					Tags []string
					Port int
				}
			}
			if err := json.Unmarshal([]byte(a.body), &entries); err != nil {
				return "registry answer: " + err.Error()
			}
			var tags []string
			for _, e := range entries {
				tags = append(tags, e.Service.Tags...)
			}
			slices.Sort(tags)
			if len(entries) != 2 || !slices.Equal(tags, []string{"grpc", "http"}) {
				return "passing grading entries: " + a.body
			}
			return ""
		})
		for _, tag := range []string{"http", "grpc"} {
			a := do(t, http.MethodGet, registry+"/v1/health/service/grading?passing=1&tag="+tag, "", "")
			var entries []json.RawMessage
			if json.Unmarshal([]byte(a.body), &entries) != nil || len(entries) != 1 {
				t.Errorf("grading tagged %s: %s; want one passing instance", tag, a.body)
			}
		}
	})

	t.Run("the API answers what grading answers", func(t *testing.T) {
		for _, tc := range []struct{ method, gateway, grading, body string }{
			{"GET", "/api/v1/students", "/students", ""},
			{"GET", "/api/v1/students/2", "/students/2", ""},
			{"GET", "/api/v1/students/999", "/students/999", ""},
			{"GET", "/api/v1/students/abc", "/students/abc", ""},
			{"POST", "/api/v1/students", "/students", `{"firstName":" ","lastName":"X"}`},
			{"POST", "/api/v1/students/1/grades", "/students/1/grades", `{"title":"T","type":"Exam","score":101}`},
			{"POST", "/api/v1/students/999/grades", "/students/999/grades", `{"title":"T","type":"Quiz","score":1}`},
		} {
			viaPortal := do(t, tc.method, s.portal()+tc.gateway, "application/json", tc.body)
			direct := do(t, tc.method, s.grading()+tc.grading, "application/json", tc.body)
			if viaPortal.status != direct.status || !sameJSON(viaPortal.body, direct.body) {
				t.Errorf("%s %s = %d %s\ngrading's own %s = %d %s", tc.method, tc.gateway, viaPortal.status, viaPortal.body,
					tc.grading, direct.status, direct.body)
			}
		}
		// Writes: an idempotent grade post and its repeat add one grade; the key reused is a 409.
		const grade = `{"title":"Over gRPC","type":"Quiz","score":64}`
		for range 2 {
			if a := do(t, "POST", s.portal()+"/api/v1/students/4/grades", "application/json", grade, "Idempotency-Key", "e2e-grpc-1"); a.status != 201 || !strings.Contains(a.body, `"title":"Over gRPC"`) {
				t.Fatalf("keyed grade post = %d %s", a.status, a.body)
			}
		}
		if a := do(t, "POST", s.portal()+"/api/v1/students/4/grades", "application/json", `{"title":"Other","type":"Quiz","score":1}`, "Idempotency-Key", "e2e-grpc-1"); a.status != 409 {
			t.Errorf("key reused = %d %s; want 409", a.status, a.body)
		}
		a := do(t, "POST", s.portal()+"/api/v1/students", "application/json", `{"firstName":"Grace","lastName":"Hopper"}`)
		if a.status != 201 || !strings.Contains(a.body, `"firstName":"Grace"`) {
			t.Fatalf("add student = %d %s", a.status, a.body)
		}
		viaPortal, direct := do(t, "GET", s.portal()+"/api/v1/students/4", "", ""), do(t, "GET", s.grading()+"/students/4", "", "")
		if !sameJSON(viaPortal.body, direct.body) || strings.Count(direct.body, "Over gRPC") != 1 {
			t.Errorf("student 4 through the portal %s, from grading %s; want the same, with one new grade", viaPortal.body, direct.body)
		}
	})

	t.Run("the pages", func(t *testing.T) {
		if a := do(t, "GET", s.portal()+"/students", "", ""); a.status != 200 || !strings.Contains(a.body, "Averill Simen") || !strings.Contains(a.body, "Grace Hopper") {
			t.Errorf("/students = %d", a.status)
		}
		form := url.Values{"title": {"Form over gRPC"}, "type": {"Test"}, "score": {"88"}}
		a := do(t, "POST", s.portal()+"/students/5/grades", "application/x-www-form-urlencoded", form.Encode())
		if a.status != http.StatusSeeOther {
			t.Fatalf("grade form post = %d %s", a.status, a.body)
		}
		if a := do(t, "GET", s.portal()+"/students/5", "", ""); a.status != 200 || !strings.Contains(a.body, "<td>Form over gRPC</td>") {
			t.Errorf("/students/5 after the post = %d\n%s", a.status, a.body)
		}
		invalid := url.Values{"title": {""}, "type": {"Test"}, "score": {"88"}}
		if a := do(t, "POST", s.portal()+"/students/5/grades", "application/x-www-form-urlencoded", invalid.Encode()); a.status != http.StatusUnprocessableEntity {
			t.Errorf("invalid grade form = %d; want 422", a.status)
		}
		if a := do(t, "GET", s.portal()+"/students/999", "", ""); a.status != 404 {
			t.Errorf("/students/999 = %d; want 404", a.status)
		}
	})

	t.Run("portal to grading traffic is gRPC", func(t *testing.T) {
		eventually(t, 5*time.Second, func() string {
			out := s.output()
			for _, rpc := range []string{"ListStudents", "GetStudent", "AddStudent", "AddGrade"} {
				if !strings.Contains(out, "rpc=/gradebook.grading.v1.Grading/"+rpc) {
					return "grading logged no gRPC " + rpc + " call"
				}
			}
			return ""
		})
	})
}

// sameJSON reports whether a and b are the same JSON value (key order and spacing aside).
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
