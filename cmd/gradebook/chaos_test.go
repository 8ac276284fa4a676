package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// The chaos test's schedule. The load runs throughout; each phase is the part of it that a
// request belongs to (by when it was answered).
const (
	chaosWorkers    = 8
	steadyFor       = 5 * time.Second  // no faults: the latency to compare with
	killingFor      = 20 * time.Second // one grading instance SIGKILLed every 2-3 s, in turn
	databaseDownFor = 3 * time.Second  // PostgreSQL stopped
	// quietFor is how long every answer must have been a success, with every instance passing,
	// for the system to count as recovered from the database's restart.
	quietFor = 3 * time.Second
	// recoverWithin bounds how long after the database is back the system may still answer 503.
	recoverWithin = 30 * time.Second
	// loadDeadline bounds the whole load, retries included, should anything hang.
	loadDeadline = 3 * time.Minute
	// maxOpsPerWorker bounds the load by count too.
	maxOpsPerWorker = 20000
)

type chaosPhase int32

const (
	phaseSteady   chaosPhase = iota
	phaseKilling             // grading instances are being killed
	phaseSettle              // the last instance killed is coming back
	phaseDBDown              // PostgreSQL is stopped (from Stop being called until Start returns)
	phaseRecovery            // PostgreSQL is back; the system catches up by itself
	phaseCount
)

func (p chaosPhase) String() string {
	return [...]string{"steady", "instances killed", "settling", "database down", "database back"}[p]
}

// call is one request of the load to the portal's gateway.
type call struct {
	post   bool
	phase  chaosPhase // when it was answered
	status int        // 0 when the portal gave no answer
	err    error      // no answer, or an answer that is not what was asked for
	path   string
	key    string
	end    time.Time
	took   time.Duration
}

// success is the status that acknowledges a call.
func (c call) success() int {
	if c.post {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (c call) ok() bool { return c.err == nil && c.status == c.success() }

func (c call) String() string {
	what := "GET " + c.path
	if c.post {
		what = "POST " + c.path + " (key " + c.key + ")"
	}
	switch {
	case c.status == 0:
		return fmt.Sprintf("%s during %s: no answer after %v: %v", what, c.phase, c.took.Round(time.Millisecond), c.err)
	case c.err != nil:
		return fmt.Sprintf("%s during %s: %d after %v, but %v", what, c.phase, c.status, c.took.Round(time.Millisecond), c.err)
	}
	return fmt.Sprintf("%s during %s: %d after %v", what, c.phase, c.status, c.took.Round(time.Millisecond))
}

// chaosLoad is the bounded client: workers that each read students and post grades, each grade
// with an Idempotency-Key of its own and retried with that key until it is acknowledged.
type chaosLoad struct {
	portal   string
	run      string // in every key, so that keys never repeat across runs
	students []int
	client   *http.Client
	phase    atomic.Int32
	stop     chan struct{} // no new reads or posts; a post under way is still retried to the end
	giveUp   chan struct{} // not even that: the test is ending
	deadline time.Time
	lastBad  atomic.Int64 // when the latest answer that was not a success came, in Unix ns
	wg       sync.WaitGroup

	mu    sync.Mutex
	calls []call
	acked map[string]int // key: the student whose grade it acknowledged
	given []string       // keys whose grade was never acknowledged
}

// gradeTitle is the title that a grade posted with key carries, so that the key can be counted
// among a student's grades.
func gradeTitle(key string) string { return "chaos " + key }

// do makes one call; check, when the answer is the success it hopes for, says whether its body
// is right.
func (l *chaosLoad) do(method, path, body, key string, check func([]byte) error) call {
	start := time.Now()
	c := call{post: method == http.MethodPost, path: path, key: key}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.portal+path, rd)
	if err == nil {
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				c.status = resp.StatusCode
				switch c.status {
				case c.success():
					err = check(b)
				case http.StatusServiceUnavailable:
					err = isError(b)
				}
			}
		}
	}
	c.err = err
	c.end = time.Now()
	c.took = c.end.Sub(start)
	c.phase = chaosPhase(l.phase.Load())
	if !c.ok() {
		l.lastBad.Store(c.end.UnixNano())
	}
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	return c
}

// isStudent checks that a read's answer is the student asked for.
func isStudent(id int) func([]byte) error {
	return func(body []byte) error {
		var st struct{ ID int }
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("the body does not decode: %w", err)
		}
		if st.ID != id {
			return fmt.Errorf("the body is student %d, want %d", st.ID, id)
		}
		return nil
	}
}

// isError checks that an answer's body is an API error, {"error":"<reason>"}.
func isError(body []byte) error {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return fmt.Errorf("the body is not an API error: %.200q", body)
	}
	return nil
}

// isGrade checks that a post's answer is the grade posted: a repeat of a key that was already
// used answers the grade stored the first time, which is the same one.
func isGrade(title string) func([]byte) error {
	return func(body []byte) error {
		var g struct{ Title string }
		if err := json.Unmarshal(body, &g); err != nil {
			return fmt.Errorf("the body does not decode: %w", err)
		}
		if g.Title != title {
			return fmt.Errorf("the body is the grade %q, want %q", g.Title, title)
		}
		return nil
	}
}

func (l *chaosLoad) worker(w, student int) {
	defer l.wg.Done()
	rng := mrand.New(mrand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	for n := range maxOpsPerWorker {
		select {
		case <-l.stop:
			return
		default:
		}
		if time.Now().After(l.deadline) {
			return
		}
		id := l.students[rng.IntN(len(l.students))]
		l.do(http.MethodGet, "/api/v1/students/"+strconv.Itoa(id), "", "", isStudent(id))
		l.post(student, fmt.Sprintf("%s-w%d-%d", l.run, w, n), rng)
		// A steady stream rather than a flood: 2 cores serve the whole system and the test.
		if !l.pause(time.Duration(10+rng.IntN(20)) * time.Millisecond) {
			return
		}
	}
}

// post posts one grade and retries it, always with the same key, until it is acknowledged. It
// reads a student between attempts, so that reads go on while posts fail.
func (l *chaosLoad) post(student int, key string, rng *mrand.Rand) {
	body := fmt.Sprintf(`{"title":%q,"type":"Quiz","score":%d}`, gradeTitle(key), rng.IntN(101))
	path := "/api/v1/students/" + strconv.Itoa(student) + "/grades"
	for {
		if l.do(http.MethodPost, path, body, key, isGrade(gradeTitle(key))).ok() {
			l.mu.Lock()
			l.acked[key] = student
			l.mu.Unlock()
			return
		}
		select {
		case <-l.giveUp:
		default:
			if time.Now().Before(l.deadline) && l.pauseUnlessGivenUp(100*time.Millisecond) {
				id := l.students[rng.IntN(len(l.students))]
				l.do(http.MethodGet, "/api/v1/students/"+strconv.Itoa(id), "", "", isStudent(id))
				continue
			}
		}
		l.mu.Lock()
		l.given = append(l.given, key)
		l.mu.Unlock()
		return
	}
}

// pause waits d, and says false if the load is stopping.
func (l *chaosLoad) pause(d time.Duration) bool {
	select {
	case <-l.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (l *chaosLoad) pauseUnlessGivenUp(d time.Duration) bool {
	select {
	case <-l.giveUp:
		return false
	case <-time.After(d):
		return true
	}
}

// quietSince says whether no answer has failed since t.
func (l *chaosLoad) quietSince(t time.Time) bool { return l.lastBad.Load() < t.UnixNano() }

// TestChaosKillsAndDatabaseRestart runs "gradebook up -grading-instances 3 -restart" on a
// PostgreSQL server of its own, under a steady load of reads and keyed grade posts through the
// portal's gateway. First nothing goes wrong; then a grading instance is SIGKILLed every 2-3 s,
// each in turn, and up restarts it: no read may fail, and every acknowledged grade must be there
// once. Then PostgreSQL itself is stopped for 3 s and started again: meanwhile the portal answers
// 503 and nothing worse, and afterwards every instance serves again by itself, without a
// process being restarted, and no acknowledged grade is lost or doubled. Latencies are printed,
// not asserted.
func TestChaosKillsAndDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system and a PostgreSQL server, and runs for about a minute")
	}
	began := time.Now()
	pg := pgtest.StartServer(t)
	bin := buildGradebook(t)
	// Warnings only: a line per request would make up's output, which the test searches for
	// pids, grow by megabytes.
	s := startSystemWithEnv(t, bin, []string{"GRADEBOOK_STORE=" + pg.URL(), "GRADEBOOK_LOG_LEVEL=warn"}, "-grading-instances", "3", "-restart")
	instances := []string{"grading", "grading-2", "grading-3"}
	t.Logf("the system is up after %v", time.Since(began).Round(time.Millisecond))

	var students []int
	for w := range chaosWorkers {
		a := do(t, http.MethodPost, s.portal()+"/api/v1/students", "application/json",
			fmt.Sprintf(`{"firstName":"Chaos","lastName":"Worker %d"}`, w))
		var st struct{ ID int }
		if a.status != http.StatusCreated || json.Unmarshal([]byte(a.body), &st) != nil {
			t.Fatalf("add a student: %d %s", a.status, a.body)
		}
		students = append(students, st.ID)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2 * chaosWorkers
	l := &chaosLoad{
		portal:   s.portal(),
		run:      "r" + hex.EncodeToString(b[:]),
		students: students,
		// The gateway gives up on grading after 8 s; a portal that says nothing for longer has
		// dropped the request.
		client:   &http.Client{Transport: transport, Timeout: 20 * time.Second},
		stop:     make(chan struct{}),
		giveUp:   make(chan struct{}),
		deadline: time.Now().Add(loadDeadline),
		acked:    map[string]int{},
	}
	var stopOnce, giveUpOnce sync.Once
	stopLoad := func() {
		stopOnce.Do(func() { close(l.stop) })
		l.wg.Wait()
	}
	t.Cleanup(func() {
		giveUpOnce.Do(func() { close(l.giveUp) })
		stopLoad()
		transport.CloseIdleConnections()
	})
	for w, st := range students {
		l.wg.Add(1)
		go l.worker(w, st)
	}

	// Steady state.
	time.Sleep(steadyFor) // the load runs meanwhile: this is its duration, not a wait for a condition

	// A grading instance SIGKILLed every 2-3 s, in turn; up -restart starts it again.
	l.phase.Store(int32(phaseKilling))
	kills, turn := 0, 0
	killingEnds := time.Now().Add(killingFor)
	for ; ; turn++ {
		next := time.Now().Add(time.Duration(2000+mrand.IntN(1000)) * time.Millisecond)
		if next.After(killingEnds) {
			time.Sleep(time.Until(killingEnds))
			break
		}
		time.Sleep(time.Until(next))
		name := instances[turn%len(instances)]
		pid := s.pid(name)
		if !ourProcess(pid, bin) {
			t.Logf("%s (pid %d) is not running at the moment, still being restarted; not killed", name, pid)
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s (pid %d): %v", name, pid, err)
		}
		kills++
	}

	if kills < 3 {
		t.Errorf("only %d instances could be killed in %v: the others were still being restarted", kills, killingFor)
	}

	// Every instance comes back.
	l.phase.Store(int32(phaseSettle))
	settleStart := time.Now()
	pids := allPassing(t, s, bin, instances, 30*time.Second)
	t.Logf("all 3 instances passing %v after the last round of kills", time.Since(settleStart).Round(time.Millisecond))

	// PostgreSQL stopped for 3 s, under load, then started again. The instance next in turn is
	// killed as it goes down: up restarts it while the database is down, where it cannot start
	// (it opens its store at start), and again until it can. The other two must recover without
	// being restarted.
	outputBefore := len(s.output())
	victim := instances[turn%len(instances)]
	l.phase.Store(int32(phaseDBDown))
	stopped := time.Now()
	if err := syscall.Kill(pids[victim], syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", victim, pids[victim], err)
	}
	kills++
	pg.Stop()
	down := time.Now()
	time.Sleep(databaseDownFor) // how long the database stays down
	// Recovery is timed from the start of the server, not from Start's return: the instances may
	// reach it before the test's own first connection does.
	restarted := time.Now()
	pg.Start()
	back := time.Now()
	l.phase.Store(int32(phaseRecovery))
	t.Logf("PostgreSQL took %v to stop, was down %v, and accepted connections %v after it was started again",
		down.Sub(stopped).Round(time.Millisecond), restarted.Sub(down).Round(time.Millisecond), back.Sub(restarted).Round(time.Millisecond))

	// Recovery by itself: every answer a success for quietFor, with every instance passing.
	deadline := back.Add(recoverWithin + quietFor)
	var allBack time.Time // when every instance first passed again
	for {
		all := passing(t, s.registry(), "grading") == 2*len(instances)
		if all && allBack.IsZero() {
			allBack = time.Now()
		}
		quietFrom := time.Now().Add(-quietFor)
		if quietFrom.After(back) && l.quietSince(quietFrom) && all {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the system has not recovered %v after PostgreSQL came back: answers still fail, or not every instance passes (%d passing registrations, want %d)",
				recoverWithin+quietFor, passing(t, s.registry(), "grading"), 2*len(instances))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopLoad()
	total := time.Since(began)

	// The figures.
	l.mu.Lock()
	calls, acked, given := l.calls, l.acked, l.given
	l.mu.Unlock()
	report(t, calls, kills, len(acked))
	first503, last503 := time.Time{}, time.Time{}
	for _, c := range calls {
		if c.phase < phaseDBDown || c.status != http.StatusServiceUnavailable {
			continue
		}
		if first503.IsZero() || c.end.Before(first503) {
			first503 = c.end
		}
		if c.end.After(last503) {
			last503 = c.end
		}
	}
	lastBad := time.Unix(0, l.lastBad.Load())
	recovered := max(lastBad.Sub(restarted), 0)
	if first503.IsZero() {
		t.Logf("no 503 at all while PostgreSQL was down")
	} else {
		t.Logf("503 window: %v, from %v after the stop began to %v after the server was started again; the last failed answer of all came %v after that start",
			last503.Sub(first503).Round(time.Millisecond), first503.Sub(stopped).Round(time.Millisecond),
			last503.Sub(restarted).Round(time.Millisecond), recovered.Round(time.Millisecond))
	}
	failedStarts := strings.Count(s.output()[outputBefore:], "gradebook: "+victim+" exited") - 1 // the first is the kill
	t.Logf("%s, killed as the database went down, failed to start %d times meanwhile; every instance passed again %v after the server was started again",
		victim, failedStarts, allBack.Sub(restarted).Round(time.Millisecond))
	t.Logf("wall time to here: %v", total.Round(time.Millisecond))

	t.Run("no read failed while instances were killed", func(t *testing.T) {
		failures(t, calls, func(c call) bool { return !c.post && c.phase < phaseDBDown })
	})
	t.Run("the portal answered only success or 503, never an error or silence", func(t *testing.T) {
		failures(t, calls, func(c call) bool { return c.status != http.StatusServiceUnavailable || c.err != nil })
	})
	t.Run("only successes again within a bounded time after the database is back", func(t *testing.T) {
		if recovered > recoverWithin {
			t.Errorf("the last failed answer came %v after PostgreSQL was started again, want within %v", recovered, recoverWithin)
		}
	})
	t.Run("every post was acknowledged", func(t *testing.T) {
		if len(given) > 0 {
			t.Errorf("%d grades were never acknowledged, for example key %s", len(given), given[0])
		}
		if len(acked) == 0 {
			t.Error("no grade was acknowledged at all")
		}
	})
	t.Run("every acknowledged grade is there exactly once", func(t *testing.T) {
		seen := map[string]int{}
		for _, id := range students {
			a := do(t, http.MethodGet, s.portal()+"/api/v1/students/"+strconv.Itoa(id), "", "")
			var st struct{ Grades []struct{ Title string } }
			if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &st) != nil {
				t.Fatalf("read student %d: %d %s", id, a.status, a.body)
			}
			for _, g := range st.Grades {
				seen[g.Title]++
			}
		}
		lost, doubled := 0, 0
		for key := range acked {
			switch n := seen[gradeTitle(key)]; {
			case n == 0:
				lost++
				if lost <= 10 {
					t.Errorf("the grade acknowledged for key %s is gone", key)
				}
			case n > 1:
				doubled++
				if doubled <= 10 {
					t.Errorf("the grade acknowledged for key %s is there %d times", key, n)
				}
			}
		}
		if lost+doubled > 0 {
			t.Errorf("of %d acknowledged grades, %d are lost and %d doubled", len(acked), lost, doubled)
		}
	})
	t.Run("the instances recovered by themselves, none restarted", func(t *testing.T) {
		for _, name := range instances {
			if name == victim {
				continue
			}
			if pid := s.pid(name); pid != pids[name] {
				t.Errorf("%s was pid %d before the database went down and is pid %d after", name, pids[name], pid)
			}
		}
		for _, line := range strings.Split(s.output()[outputBefore:], "\n") {
			if strings.HasPrefix(line, "gradebook: ") && strings.Contains(line, " exited") && !strings.HasPrefix(line, "gradebook: "+victim+" exited") {
				t.Errorf("a process exited while the database was down or after: %s", line)
			}
		}
	})
	t.Run("the instance killed as the database went down came back once it was up", func(t *testing.T) {
		if pid := s.pid(victim); pid == pids[victim] || !ourProcess(pid, bin) {
			t.Errorf("%s is pid %d, running %v; it was pid %d when it was killed", victim, pid, ourProcess(pid, bin), pids[victim])
		}
	})
}

// allPassing waits until every grading instance is running and both its registrations pass, and
// answers their pids.
func allPassing(t *testing.T, s *system, bin string, instances []string, within time.Duration) map[string]int {
	t.Helper()
	pids := map[string]int{}
	eventually(t, within, func() string {
		for _, name := range instances {
			pids[name] = s.pid(name)
			if !ourProcess(pids[name], bin) {
				return name + " is not running"
			}
		}
		if n := passing(t, s.registry(), "grading"); n != 2*len(instances) {
			return fmt.Sprintf("%d passing grading registrations, want %d", n, 2*len(instances))
		}
		return ""
	})
	return pids
}

// ourProcess says whether pid is a live process of the binary bin, so that a pid that up printed
// for an instance since killed is never signalled again.
func ourProcess(pid int, bin string) bool {
	proc := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's name in parentheses, which may itself hold ") ".
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return false
	}
	exe, err := os.Readlink(proc + "/exe")
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(bin)
	return err == nil && exe == want
}

// failures fails t with every call that was not a success and that bad picks, each printed (up
// to a limit).
func failures(t *testing.T, calls []call, bad func(call) bool) {
	t.Helper()
	n := 0
	for _, c := range calls {
		if c.ok() || !bad(c) {
			continue
		}
		n++
		if n <= 50 {
			t.Errorf("%v", c)
		}
	}
	if n > 50 {
		t.Errorf("and %d more", n-50)
	}
}

// report prints the latencies of reads and posts by phase, and the counts.
func report(t *testing.T, calls []call, kills, acked int) {
	t.Helper()
	type figures struct{ reads, posts []time.Duration }
	var by [phaseCount]figures
	reads, posts, retries := 0, 0, 0
	var failed [phaseCount]struct{ reads, posts int }
	for _, c := range calls {
		f := &by[c.phase]
		if c.post {
			posts++
			f.posts = append(f.posts, c.took)
			if !c.ok() {
				retries++
				failed[c.phase].posts++
			}
			continue
		}
		reads++
		f.reads = append(f.reads, c.took)
		if !c.ok() {
			failed[c.phase].reads++
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-17s %28s   %28s\n", "", "reads: n (failed)  p50   p99", "posts: n (failed)  p50   p99")
	for p := range phaseCount {
		f := by[p]
		fmt.Fprintf(&sb, "%-17s %7d (%4d) %8v %8v   %7d (%4d) %8v %8v\n", p,
			len(f.reads), failed[p].reads, testkit.Percentile(f.reads, 50).Round(100*time.Microsecond), testkit.Percentile(f.reads, 99).Round(100*time.Microsecond),
			len(f.posts), failed[p].posts, testkit.Percentile(f.posts, 50).Round(100*time.Microsecond), testkit.Percentile(f.posts, 99).Round(100*time.Microsecond))
	}
	fmt.Fprintf(&sb, "reads %d, post attempts %d (grades acknowledged %d, retries %d), instances killed %d", reads, posts, acked, retries, kills)
	t.Logf("latency by phase (a post's latency is one attempt's):\n%s", sb.String())
}
