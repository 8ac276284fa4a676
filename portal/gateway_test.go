package portal

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
)

func TestGatewayMirrorsGrading(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testGatewayMirrorsGrading(t, tr) })
	}
}

func testGatewayMirrorsGrading(t *testing.T, tr transport) {
	g := startGrading(t)
	p, _ := validated(t, newTestPortalOver(t, tr, sd.FixedInstancer{tr.addr(g)}))
	const jsonType = "application/json"
	tests := []struct {
		name, method, path, body string
		header                   []string
		want                     int
		contains                 string
	}{
		{"list", "GET", "/api/v1/students", "", nil, 200, `"firstName":"Averill"`},
		{"one", "GET", "/api/v1/students/1", "", nil, 200, `"lastName":"Simen"`},
		{"average", "GET", "/api/v1/students/2", "", nil, 200, `"average":98.66`},
		{"unknown student", "GET", "/api/v1/students/999", "", nil, 404, `"error":"no such student"`},
		{"not a number", "GET", "/api/v1/students/abc", "", nil, 404, `"error"`},
		{"add student", "POST", "/api/v1/students", `{"firstName":"Ada","lastName":"Lovelace"}`, nil, 201, `"firstName":"Ada"`},
		{"add student invalid", "POST", "/api/v1/students", `{"firstName":" ","lastName":"X"}`, nil, 400, `"firstName":"is required"`},
		{"malformed JSON", "POST", "/api/v1/students", `{"firstName":`, nil, 400, `"error":"invalid: request body is truncated JSON"`},
		{"add grade", "POST", "/api/v1/students/1/grades", `{"title":"Quiz 3","type":"Quiz","score":90}`, nil, 201, `"title":"Quiz 3"`},
		{"course-style grade", "POST", "/api/v1/students/1/grades", `{"Title":"Quiz 4","Type":"Quiz","Score":70}`, nil, 201, `"score":70`},
		{"grade invalid", "POST", "/api/v1/students/1/grades", `{"title":"T","type":"Exam","score":101}`, nil, 400, `"score":"must be from 0 to 100`},
		{"grade unknown student", "POST", "/api/v1/students/999/grades", `{"title":"T","type":"Quiz","score":1}`, nil, 404, `no such student`},
		{"idempotent grade", "POST", "/api/v1/students/3/grades", `{"title":"Q","type":"Quiz","score":50}`, []string{"Idempotency-Key", "k1"}, 201, `"title":"Q"`},
		{"idempotent repeat", "POST", "/api/v1/students/3/grades", `{"title":"Q","type":"Quiz","score":50}`, []string{"Idempotency-Key", "k1"}, 201, `"title":"Q"`},
		{"key reused for another grade", "POST", "/api/v1/students/3/grades", `{"title":"R","type":"Quiz","score":50}`, []string{"Idempotency-Key", "k1"}, 409, `"error"`},
		{"wrong method", "PUT", "/api/v1/students/1", "", nil, 405, `"error"`},
		{"unknown route", "GET", "/api/v1/nothing", "", nil, 404, `"error":"no such route`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(t, tc.method, tc.path, jsonType, tc.body, tc.header...)
			if a.status != tc.want || !strings.Contains(a.body, tc.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %s", tc.method, tc.path, a.status, a.body, tc.want, tc.contains)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	var st grading.Student
	if err := json.Unmarshal([]byte(p.get(t, "/api/v1/students/3").body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Grades) != 4 {
		t.Errorf("student 3 has %d grades after a keyed post and its repeat; want 4", len(st.Grades))
	}
}

func TestGatewayPassesRequestID(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	a := p.do(t, "GET", "/api/v1/students/1", "", "", "X-Request-ID", "trace-me-42")
	if a.status != 200 || a.header.Get("X-Request-ID") != "trace-me-42" {
		t.Fatalf("status %d, X-Request-ID %q", a.status, a.header.Get("X-Request-ID"))
	}
	// Over gRPC, grading records the x-request-id metadata it got.
	pg := newTestPortalOver(t, transports[1], sd.FixedInstancer{g.grpcAddr})
	for len(g.requestIDs) > 0 {
		<-g.requestIDs // the readiness probe's
	}
	pg.do(t, "GET", "/api/v1/students/1", "", "", "X-Request-ID", "trace-me-44")
	if got := <-g.requestIDs; got != "trace-me-44" {
		t.Fatalf("grading saw request ID %q over gRPC; want trace-me-44", got)
	}
	// grading echoes the ID it received; the portal's client must have sent it.
	seen := make(chan string, 1)
	spy := startSpy(t, seen)
	p2 := newTestPortalNoWait(t, sd.FixedInstancer{spy})
	p2.do(t, "GET", "/api/v1/students/1", "", "", "X-Request-ID", "trace-me-43")
	if got := <-seen; got != "trace-me-43" {
		t.Fatalf("grading saw X-Request-ID %q; want trace-me-43", got)
	}
}

func TestGatewayRoundRobin(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testGatewayRoundRobin(t, tr) })
	}
}

func testGatewayRoundRobin(t *testing.T, tr transport) {
	a, b := startGrading(t), startGrading(t)
	p := newTestPortalOver(t, tr, sd.FixedInstancer{tr.addr(a), tr.addr(b)})
	a.hits.Store(0)
	b.hits.Store(0)
	for range 10 {
		if got := p.get(t, "/api/v1/students/1"); got.status != 200 {
			t.Fatalf("GET = %d %s", got.status, got.body)
		}
	}
	if a.hits.Load() != 5 || b.hits.Load() != 5 {
		t.Fatalf("hits = %d and %d; want 5 and 5", a.hits.Load(), b.hits.Load())
	}
}

func TestGatewayRetriesReadsPastAKilledInstance(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testGatewayRetriesReadsPastAKilledInstance(t, tr) })
	}
}

func testGatewayRetriesReadsPastAKilledInstance(t *testing.T, tr transport) {
	a, b := startGrading(t), startGrading(t)
	p := newTestPortalOver(t, tr, sd.FixedInstancer{tr.addr(a), tr.addr(b)})
	tr.kill(b) // killed: its port now refuses connections
	for i := range 10 {
		for _, path := range []string{"/api/v1/students/1", "/api/v1/students"} {
			if got := p.get(t, path); got.status != 200 {
				t.Fatalf("request %d: GET %s = %d %s; want 200 from the surviving instance", i, path, got.status, got.body)
			}
		}
	}
	// The pages go through the same endpoints.
	if got := p.get(t, "/students/1"); got.status != 200 {
		t.Fatalf("page = %d", got.status)
	}
}

func TestGatewayDoesNotRetryBusinessErrors(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testGatewayDoesNotRetryBusinessErrors(t, tr) })
	}
}

func testGatewayDoesNotRetryBusinessErrors(t *testing.T, tr transport) {
	a, b := startGrading(t), startGrading(t)
	p := newTestPortalOver(t, tr, sd.FixedInstancer{tr.addr(a), tr.addr(b)})
	a.hits.Store(0)
	b.hits.Store(0)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/students/999", ""},
		{"POST", "/api/v1/students/1/grades", `{"title":"","type":"Quiz","score":5}`},
	} {
		before := a.hits.Load() + b.hits.Load()
		got := p.do(t, tc.method, tc.path, "application/json", tc.body, "Idempotency-Key", "biz-"+tc.method)
		if got.status != 404 && got.status != 400 {
			t.Fatalf("%s %s = %d %s", tc.method, tc.path, got.status, got.body)
		}
		if n := a.hits.Load() + b.hits.Load() - before; n != 1 {
			t.Fatalf("%s %s reached grading %d times; a business error must not be retried", tc.method, tc.path, n)
		}
	}
	// Many business errors in a row must not open a breaker: the instances still serve.
	for range 20 {
		p.get(t, "/api/v1/students/999")
	}
	for range 4 {
		if got := p.get(t, "/api/v1/students/1"); got.status != 200 {
			t.Fatalf("after 404s, GET = %d %s; business errors tripped a breaker", got.status, got.body)
		}
	}
}

func TestGatewayRetriesPostsOnlyWithAnIdempotencyKey(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testGatewayRetriesPostsOnlyWithAnIdempotencyKey(t, tr) })
	}
}

func testGatewayRetriesPostsOnlyWithAnIdempotencyKey(t *testing.T, tr transport) {
	good := startGrading(t)
	var bad string
	var badHits *atomic.Int64
	if tr.name == "grpc" {
		bad, badHits = failingGRPCInstance(t)
	} else {
		srv, hits := failingInstance(t)
		bad, badHits = strings.TrimPrefix(srv.URL, "http://"), hits
	}
	p := newTestPortalOver(t, tr, sd.FixedInstancer{bad, tr.addr(good)})
	const body = `{"title":"Lab","type":"Test","score":77}`

	// Without a key, each post goes to one instance only: the one sent to the sick instance fails.
	good.hits.Store(0)
	badHits.Store(0)
	statuses := map[int]int{}
	for range 2 {
		statuses[p.do(t, "POST", "/api/v1/students/1/grades", "application/json", body).status]++
	}
	if statuses[201] != 1 || statuses[503] != 1 || badHits.Load() != 1 || good.hits.Load() != 1 {
		t.Fatalf("unkeyed posts: statuses %v, sick instance hit %d, good hit %d; want one 201, one 503, 1 and 1",
			statuses, badHits.Load(), good.hits.Load())
	}
	got := p.do(t, "POST", "/api/v1/students/1/grades", "application/json", body)
	if got.status == 503 && !strings.Contains(got.body, `"error":"the grading service is unavailable`) {
		t.Fatalf("503 body = %s", got.body)
	}

	// With a key, a post that meets the sick instance moves on to the good one.
	for i := range 2 {
		got := p.do(t, "POST", "/api/v1/students/2/grades", "application/json", body, "Idempotency-Key", "retry-"+string(rune('a'+i)))
		if got.status != 201 {
			t.Fatalf("keyed post %d = %d %s; want 201 after a retry", i, got.status, got.body)
		}
	}
}

func TestGatewayWithoutInstancesAnswers503(t *testing.T) {
	for _, tr := range transports {
		for name, instancer := range map[string]sd.Instancer{
			"none known": sd.FixedInstancer{},
			"all dead":   sd.FixedInstancer{deadAddr(t), deadAddr(t)},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				p := newTestPortalOver(t, tr, noWait{instancer})
				for _, tc := range []struct{ method, path, body string }{
					{"GET", "/api/v1/students", ""},
					{"GET", "/api/v1/students/1", ""},
					{"POST", "/api/v1/students", `{"firstName":"A","lastName":"B"}`},
					{"POST", "/api/v1/students/1/grades", `{"title":"T","type":"Quiz","score":1}`},
				} {
					got := p.do(t, tc.method, tc.path, "application/json", tc.body)
					var body struct{ Error string }
					if got.status != 503 || json.Unmarshal([]byte(got.body), &body) != nil || !strings.Contains(body.Error, "grading service is unavailable") {
						t.Fatalf("%s %s = %d %s; want 503 JSON", tc.method, tc.path, got.status, got.body)
					}
				}
			})
		}
	}
}

// startSpy is a grading stand-in that reports the X-Request-ID of each request it gets.
func startSpy(t *testing.T, seen chan<- string) string {
	g := startGrading(t)
	g.srv.Config.Handler = wrapSpy(g.srv.Config.Handler, seen)
	return g.addr()
}

func wrapSpy(next http.Handler, seen chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- r.Header.Get("X-Request-ID"):
		default:
		}
		next.ServeHTTP(w, r)
	})
}

func newTestPortalNoWait(t testing.TB, instancer sd.Instancer, deps ...func(*Deps)) *testPortal {
	t.Helper()
	return newTestPortal(t, noWait{instancer}, deps...)
}

// noWait hides a FixedInstancer's type so that newTestPortal does not wait for endpoints.
type noWait struct{ sd.Instancer }
