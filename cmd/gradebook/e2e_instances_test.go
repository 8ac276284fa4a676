package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading/pgtest"
)

// TestEndToEndSeveralGradingInstances runs "gradebook up -grading-instances 2 -restart" over one
// PostgreSQL database, named by GRADEBOOK_STORE as the README advises: both instances register on
// ports of their own and serve the same data, the store's password shows nowhere, and when one
// instance is killed the portal keeps answering while up restarts that one alone.
func TestEndToEndSeveralGradingInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	store := pgtest.URL(t) // skips loudly without GRADEBOOK_TEST_POSTGRES, fails under CI=true
	bin := buildGradebook(t)
	s := startSystemWithEnv(t, bin, []string{"GRADEBOOK_STORE=" + store}, "-grading-instances", "2", "-restart")
	port := func(p int) int { return p + s.offset }

	t.Run("both instances registered and passing, each on its own ports", func(t *testing.T) {
		a := do(t, http.MethodGet, s.registry()+"/v1/health/service/grading?passing=1", "", "")
		var entries []struct {
			Service struct {
				Tags []string
				Port int
			}
		}
		if err := json.Unmarshal([]byte(a.body), &entries); err != nil {
			t.Fatalf("registry answer %d: %v", a.status, err)
		}
		got := map[int]string{}
		for _, e := range entries {
			got[e.Service.Port] = strings.Join(e.Service.Tags, ",")
		}
		want := map[int]string{port(6000): "http", port(6001): "grpc", port(6002): "http", port(6003): "grpc"}
		if len(entries) != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("passing grading registrations by port: %v, want %v", got, want)
		}
	})

	t.Run("up names each instance and prints its pid and URLs", func(t *testing.T) {
		out := s.output()
		for _, want := range []string{
			"started grading   pid", "started grading-2 pid",
			"grading-2  http://127.0.0.1:" + strconv.Itoa(port(6002)) + "/students",
			"grading-2  grpc://127.0.0.1:" + strconv.Itoa(port(6003)),
			"\ngrading-2 | ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("up's output lacks %q", want)
			}
		}
		if s.pid("grading") == s.pid("grading-2") {
			t.Error("both instances have the same pid")
		}
	})

	t.Run("the store's password shows nowhere but in grading's environment", func(t *testing.T) {
		u, _ := url.Parse(store)
		secret := u.User.String() + "@"
		if _, ok := u.User.Password(); !ok {
			t.Logf("GRADEBOOK_TEST_POSTGRES has no password: only command lines are checked")
			secret = store
		}
		if strings.Contains(s.output(), secret) {
			t.Errorf("up's output shows the store's user and password %q", secret)
		}
		if _, ok := u.User.Password(); ok && !strings.Contains(s.output(), u.User.Username()+":xxxxx@") {
			t.Errorf("up's output does not show the store with its password hidden")
		}
		for _, name := range []string{"grading", "grading-2"} {
			pid := strconv.Itoa(s.pid(name))
			cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(cmdline), u.Host) {
				t.Errorf("%s's command line, which ps shows to everyone, names the store: %q", name, cmdline)
			}
			environ, err := os.ReadFile("/proc/" + pid + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(strings.Split(string(environ), "\x00"), "GRADEBOOK_STORE="+store) {
				t.Errorf("%s was not given the store in GRADEBOOK_STORE", name)
			}
		}
	})

	t.Run("both instances serve the same students, the demo ones once", func(t *testing.T) {
		list := func(k int) []string {
			a := do(t, http.MethodGet, s.gradingInstance(k)+"/students", "", "")
			var students []struct{ FirstName, LastName string }
			if a.status != 200 || json.Unmarshal([]byte(a.body), &students) != nil {
				t.Fatalf("instance %d: GET /students = %d %s", k, a.status, a.body)
			}
			var names []string
			for _, st := range students {
				names = append(names, st.FirstName+" "+st.LastName)
			}
			return names
		}
		if one, two := list(1), list(2); len(one) != 5 || !slices.Equal(one, two) {
			t.Errorf("instance 1 lists %q, instance 2 %q; want the five demo students on both", one, two)
		}
		a := do(t, http.MethodPost, s.gradingInstance(1)+"/students", "application/json", `{"firstName":"Ada","lastName":"Lovelace"}`)
		var ada struct{ ID int }
		if a.status != http.StatusCreated || json.Unmarshal([]byte(a.body), &ada) != nil {
			t.Fatalf("add a student on instance 1: %d %s", a.status, a.body)
		}
		grade := `{"title":"Quiz 1","type":"Quiz","score":93}`
		if a := do(t, http.MethodPost, s.gradingInstance(2)+"/students/"+strconv.Itoa(ada.ID)+"/grades", "application/json", grade); a.status != http.StatusCreated {
			t.Fatalf("grade her on instance 2: %d %s", a.status, a.body)
		}
		if a := do(t, http.MethodGet, s.gradingInstance(1)+"/students/"+strconv.Itoa(ada.ID), "", ""); a.status != 200 || !strings.Contains(a.body, "Quiz 1") {
			t.Errorf("instance 1 does not see the grade recorded on instance 2: %d %s", a.status, a.body)
		}
	})

	t.Run("one instance killed: the portal answers throughout, and up restarts that one alone", func(t *testing.T) {
		first, second := s.pid("grading"), s.pid("grading-2")
		if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Clients see no errors: each request that reaches the dead instance is retried on the
		// other, until the registry marks it critical and then up brings it back.
		deadline := time.Now().Add(3 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			if a := do(t, http.MethodGet, s.portal()+"/api/v1/students/1", "", ""); a.status != 200 {
				t.Fatalf("request %d after the kill: %d %s", i, a.status, a.body)
			}
			time.Sleep(20 * time.Millisecond) // a steady stream of requests, not a timing assertion
		}
		eventually(t, 20*time.Second, func() string {
			if !strings.Contains(s.output(), "restarted grading-2, pid") {
				return "up has not restarted grading-2"
			}
			if n := passing(t, s.registry(), "grading"); n != 4 {
				return fmt.Sprintf("%d passing grading registrations, want 4", n)
			}
			return ""
		})
		if s.pid("grading") != first {
			t.Errorf("the first instance was restarted too")
		}
		if s.pid("grading-2") == second {
			t.Errorf("grading-2 has its old pid")
		}
		if strings.Contains(s.output(), "restarted grading,") {
			t.Errorf("up restarted the instance that was not killed")
		}
	})

	t.Run("Ctrl-C stops every instance", func(t *testing.T) {
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.exitedCh:
		case <-time.After(60 * time.Second):
			t.Fatal("gradebook up did not stop within 60s of SIGINT")
		}
		if s.exitErr != nil {
			t.Errorf("gradebook up exited with %v, want 0", s.exitErr)
		}
		for p := 6000; p < 6004; p++ {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port(p)), time.Second); err == nil {
				c.Close()
				t.Errorf("port %d still answers after shutdown", port(p))
			}
		}
	})
}
