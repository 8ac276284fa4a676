package server

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// instance is one grading process run by a test through Run.
type instance struct {
	addr   string
	stderr *testkit.Buffer
	client *http.Client
}

// startInstance runs the grading service with args (plus a port the kernel picks) until the test
// ends. It does not wait: ready does.
func startInstance(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stderr: &testkit.Buffer{}, client: &http.Client{Timeout: 5 * time.Second}}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", t.TempDir()}, args...), nil, in.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v after a clean stop", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after its context ended")
		}
		in.client.CloseIdleConnections()
		if t.Failed() {
			t.Logf("the instance's log:\n%s", in.stderr.String())
		}
	})
	return in
}

// ready waits until the instance serves and its /health passes.
func (in *instance) ready(t *testing.T) {
	t.Helper()
	in.addr = testkit.ServingAddr(t, in.stderr, 20*time.Second)
	testkit.Eventually(t, 20*time.Second, "/health to pass", func() bool {
		code, _ := in.do(t, "GET", "/health", "")
		return code == http.StatusOK
	})
}

// do sends one request and answers the status and body; a request that fails answers 0.
func (in *instance) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+in.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (in *instance) students(t *testing.T) []grading.Student {
	t.Helper()
	code, body := in.do(t, "GET", "/students", "")
	var all []grading.Student
	if code != http.StatusOK || json.Unmarshal([]byte(body), &all) != nil {
		t.Fatalf("GET /students = %d %s", code, body)
	}
	return all
}

// TestRunOnPostgres runs two grading instances on one database, as a scaled-out deployment does:
// one reaches it through a proxy that the test cuts. Both start at once, seed the demo students
// once, register the same store, and serve each other's writes. While the proxy is cut, the
// instance behind it answers 503 {"error":"storage unavailable: database unreachable"} and its /health turns critical
// while the other carries on; once the proxy is restored it serves again by itself. The
// password is in none of its output.
func TestRunOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	proxy := pgtest.NewProxy(t, url)
	reg := startFakeRegistry(t)
	common := []string{"-registry", reg.URL, "-check-interval", "1s", "-store-connect-timeout", "1s", "-store-statement-timeout", "1s"}

	a := startInstance(t, append(common, "-store", proxy.URL(url))...)
	b := startInstance(t, append(common, "-store", url)...)
	a.ready(t)
	b.ready(t)

	// One seed between them, and one store in both registrations.
	if all := a.students(t); len(all) != 5 {
		t.Fatalf("%d students after two instances started on an empty database, want the five demo students", len(all))
	}
	if strings.Count(a.stderr.String()+b.stderr.String(), "seeded the demo students") != 1 {
		t.Errorf("want exactly one instance to say it seeded the demo students:\n%s\n%s", a.stderr.String(), b.stderr.String())
	}
	var ids []string
	testkit.Eventually(t, 10*time.Second, "four registrations (HTTP and gRPC of each instance)", func() bool {
		ids = ids[:0]
		for _, r := range reg.registrations() {
			if r.Meta[grading.StoreKindMeta] == KindPostgres {
				ids = append(ids, r.Meta[grading.StoreIDMeta])
			}
		}
		return len(ids) == 4
	})
	for _, id := range ids {
		if id != ids[0] || !strings.HasPrefix(id, "pg-") {
			t.Errorf("registrations carry store IDs %v; want one pg-… ID for the one database", ids)
		}
	}

	// A write on one instance is read on the other.
	grade := `{"title":"Quiz 3","type":"Quiz","score":90}`
	if code, body := a.do(t, "POST", "/students/1/grades", grade); code != http.StatusCreated {
		t.Fatalf("POST a grade on A = %d %s", code, body)
	}
	if code, body := b.do(t, "GET", "/students/1", ""); code != http.StatusOK || !strings.Contains(body, "Quiz 3") {
		t.Errorf("B does not see A's grade: %d %s", code, body)
	}

	proxy.Cut()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/students", ""},
		{"GET", "/students/1", ""},
		{"POST", "/students", `{"firstName":"Ada","lastName":"Lovelace"}`},
		{"POST", "/students/1/grades", grade},
	} {
		code, body := a.do(t, r.method, r.path, r.body)
		if code != http.StatusServiceUnavailable || body != `{"error":"storage unavailable: database unreachable"}` {
			t.Errorf("%s %s while the database is unreachable = %d %s; want 503 {\"error\":\"storage unavailable: database unreachable\"}", r.method, r.path, code, body)
		}
	}
	begin := time.Now()
	if code, body := a.do(t, "GET", "/health", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/health while the database is unreachable = %d %s, want 503", code, body)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("/health took %v to turn critical, want about a second at most", took)
	}
	if code, _ := b.do(t, "GET", "/health", ""); code != http.StatusOK {
		t.Errorf("the instance with its own way to the database turned critical too: %d", code)
	}

	proxy.Restore()
	testkit.Eventually(t, 15*time.Second, "A's /health to pass once the database is back", func() bool {
		code, _ := a.do(t, "GET", "/health", "")
		return code == http.StatusOK
	})
	if code, body := a.do(t, "POST", "/students/1/grades", grade); code != http.StatusCreated {
		t.Errorf("POST a grade after recovery = %d %s", code, body)
	}
	if all := b.students(t); len(all) != 5 || len(all[0].Grades) != 5 {
		t.Errorf("after recovery B sees %d students, the first with %d grades; want 5, and 3 demo grades plus 2", len(all), len(all[0].Grades))
	}

	logs := a.stderr.String()
	for _, want := range []string{`msg="using the store" kind=postgres`, "gradebook:xxxxx@", "the database is unreachable", "the database is reachable again"} {
		if !strings.Contains(logs, want) {
			t.Errorf("A's log lacks %q", want)
		}
	}
	for _, leak := range []string{"gradebook:gradebook@", "password=gradebook"} {
		if strings.Contains(logs+b.stderr.String(), leak) {
			t.Errorf("an instance's output shows the password (%s)", leak)
		}
	}
}

// TestStoreFlag: -store takes bolt or a PostgreSQL URL and refuses anything else, naming the
// flag; no answer of Run, usage included, shows a password given to it.
func TestStoreFlag(t *testing.T) {
	const secret = "Sup3r-Secret-Pw"
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		want   string // in the error or the usage; empty: Run starts and is stopped
		isHelp bool
	}{
		{name: "another database", args: []string{"-store", "mysql://u:" + secret + "@h/db"}, want: "-store: want empty or \"bolt\""},
		{name: "a file name", args: []string{"-store", "grading.db"}, want: "-store: want"},
		{name: "a password-like word", args: []string{"-store", secret}, want: "-store: want"},
		{name: "from the environment", env: map[string]string{"GRADEBOOK_STORE": "redis://:" + secret + "@h"}, want: "-store: want"},
		{name: "no connections", args: []string{"-store-max-conns", "0"}, want: "-store-max-conns 0"},
		{name: "no connect time", args: []string{"-store-connect-timeout", "0s"}, want: "-store-connect-timeout"},
		{name: "unreachable database", args: []string{"-store", "postgres://u:" + secret + "@127.0.0.1:1/db", "-store-connect-timeout", "1s"},
			want: "storage unavailable"},
		{name: "help with a store in the environment", args: []string{"-h"}, isHelp: true, want: "-store-statement-timeout",
			env: map[string]string{"GRADEBOOK_STORE": "postgres://u:" + secret + "@127.0.0.1:1/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out testkit.Buffer
			getenv := func(k string) string { return tc.env[k] }
			err := Run(context.Background(), append([]string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0",
				"-registry", "http://127.0.0.1:1", "-data", t.TempDir()}, tc.args...), getenv, &out)
			if tc.isHelp != errors.Is(err, flag.ErrHelp) {
				t.Fatalf("Run = %v", err)
			}
			text := out.String()
			if err != nil {
				text += "\n" + err.Error()
			}
			if !tc.isHelp && err == nil {
				t.Fatal("Run started")
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("Run's answer lacks %q:\n%s", tc.want, text)
			}
			if strings.Contains(text, secret) {
				t.Errorf("Run's answer shows the password:\n%s", text)
			}
		})
	}
}
