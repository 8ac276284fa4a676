package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pgstore"
	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/errs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// query runs a statement that answers one integer per row on the database at url, as an
// operator would with psql.
func query(t *testing.T, url, sql string, args ...any) []int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// TestThreeInstancesStartingTogether: three handles opening an empty database at the same
// moment, as three grading instances started together do, migrate it once and seed it once.
func TestThreeInstancesStartingTogether(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const instances = 3
	stores := make([]*pgstore.Store, instances)
	seeded := make([]int, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			s, err := pgstore.Open(ctx, pgstore.Config{URL: url})
			if err != nil {
				errs[i] = err
				return
			}
			stores[i] = s
			seeded[i], errs[i] = s.SeedIfEmpty(ctx, grading.DemoStudents())
		})
	}
	close(start)
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	// goose's table has one row per version applied (version 0 is its own start).
	versions := query(t, url, `SELECT version_id FROM goose_db_version ORDER BY id`)
	if len(versions) < 2 || versions[0] != 0 {
		t.Fatalf("goose_db_version holds versions %v; want 0 and then each migration", versions)
	}
	for i := 1; i < len(versions); i++ {
		if versions[i] != versions[i-1]+1 {
			t.Errorf("goose_db_version holds versions %v; want each applied once, in order", versions)
		}
	}
	if n := query(t, url, `SELECT count(*) FROM students`); n[0] != 5 {
		t.Errorf("%d students after three instances seeded, want the five demo students", n[0])
	}
	if seeded[0]+seeded[1]+seeded[2] != 5 {
		t.Errorf("the instances report seeding %v students, want 5 from one of them", seeded)
	}
	for i, s := range stores {
		if s.ID() != stores[0].ID() {
			t.Errorf("instance %d serves %q, instance 0 %q; want one ID for one database", i, s.ID(), stores[0].ID())
		}
	}
}

// TestUnreachableDatabase: while the database cannot be reached, every method answers
// errs.ErrUnavailable "storage unavailable: database unreachable" within a bounded time, and everything works again
// by itself once it is back. A server that is gone and a network that hangs are both tried.
func TestUnreachableDatabase(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(*pgtest.Proxy)
	}{
		{"server gone", (*pgtest.Proxy).Cut},
		{"network hangs", (*pgtest.Proxy).Stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.URL(t)
			proxy := pgtest.NewProxy(t, url)
			const timeout = 500 * time.Millisecond
			s, err := pgstore.Open(context.Background(), pgstore.Config{URL: proxy.URL(url), ConnectTimeout: timeout, StatementTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			st, err := s.CreateStudent(ctx, "Averill", "Simen")
			if err != nil {
				t.Fatal(err)
			}
			g := grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}

			calls := []struct {
				name string
				call func(context.Context) error
			}{
				{"Ping", s.Ping},
				{"ListStudents", func(ctx context.Context) error { _, err := s.ListStudents(ctx); return err }},
				{"GetStudent", func(ctx context.Context) error { _, err := s.GetStudent(ctx, st.ID); return err }},
				{"CreateStudent", func(ctx context.Context) error { _, err := s.CreateStudent(ctx, "Marge", "Garrard"); return err }},
				{"AddGrade", func(ctx context.Context) error { _, err := s.AddGrade(ctx, st.ID, g, "k1"); return err }},
				{"SeedIfEmpty", func(ctx context.Context) error { _, err := s.SeedIfEmpty(ctx, grading.DemoStudents()); return err }},
			}
			tc.cut(proxy)
			for _, c := range calls {
				begin := time.Now()
				err := c.call(ctx)
				took := time.Since(begin)
				if !errors.Is(err, errs.ErrUnavailable) || err.Error() != "storage unavailable: database unreachable" {
					t.Errorf("%s while unreachable = %v; want errs.ErrUnavailable \"storage unavailable: database unreachable\"", c.name, err)
				}
				// A connection attempt and a statement, with room for a loaded machine.
				if limit := 2*timeout + 2*time.Second; took > limit {
					t.Errorf("%s took %v to fail, want under %v", c.name, took, limit)
				}
			}
			// /health gives Ping a second; it must answer within it.
			pingCtx, cancel := context.WithTimeout(ctx, time.Second)
			begin := time.Now()
			err = s.Ping(pingCtx)
			cancel()
			if err == nil || time.Since(begin) > time.Second+500*time.Millisecond {
				t.Errorf("Ping with a 1s deadline = %v after %v; want an error within about a second", err, time.Since(begin))
			}

			proxy.Restore()
			testkit.Eventually(t, 10*time.Second, "Ping to succeed once the database is back", func() bool {
				return s.Ping(ctx) == nil
			})
			for _, c := range calls {
				if err := c.call(ctx); err != nil {
					t.Errorf("%s after the database came back = %v", c.name, err)
				}
			}
			if got, _ := s.GetStudent(ctx, st.ID); len(got.Grades) != 1 {
				t.Errorf("after recovery Averill has %v; want the one grade written since", got.Grades)
			}
		})
	}
}

// TestStatementTimeout: a statement stuck behind another connection's lock is cut off by the
// server after the statement timeout, and the caller is told storage is unavailable.
func TestStatementTimeout(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s, err := pgstore.Open(ctx, pgstore.Config{URL: url, StatementTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE students IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err = s.CreateStudent(ctx, "Averill", "Simen")
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("CreateStudent behind a lock = %v, want errs.ErrUnavailable", err)
	}
	if took := time.Since(begin); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("CreateStudent behind a lock failed after %v, want about the 300ms statement timeout", took)
	}
}

// TestPasswordNeverShown: the password appears in no error, and in no description of the
// configuration, whatever goes wrong.
func TestPasswordNeverShown(t *testing.T) {
	const secret = "Sup3r-Secret-Pw"
	admin := pgtest.URL(t) // a database the role can reach, with a wrong password below
	wrong := strings.Replace(admin, "://gradebook:gradebook@", "://gradebook:"+secret+"@", 1)
	if wrong == admin {
		t.Skipf("the admin URL is not of the role gradebook with password gradebook: %s", pgstore.Redact(admin))
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, url string }{
		{"wrong password", wrong},
		{"nothing listening", fmt.Sprintf("postgres://gradebook:%s@127.0.0.1:1/gradebook?sslmode=disable&connect_timeout=1", secret)},
		{"password as a parameter", fmt.Sprintf("postgres://127.0.0.1:1/gradebook?user=gradebook&password=%s&sslmode=disable", secret)},
		{"bad port", fmt.Sprintf("postgres://gradebook:%s@127.0.0.1:99999/gradebook", secret)},
		{"bad option", fmt.Sprintf("postgres://gradebook:%s@127.0.0.1:5432/gradebook?sslmode=sometimes", secret)},
		{"not a URL", fmt.Sprintf("postgres://gradebook:%s@127.0.0.1:5432/gradebook?%%zz", secret)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pgstore.Config{URL: tc.url, ConnectTimeout: time.Second}
			s, err := pgstore.Open(ctx, cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for what, text := range map[string]string{
				"the error": err.Error(), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
				"%#v": fmt.Sprintf("%#v", cfg), "String()": cfg.String(), "Redact": pgstore.Redact(tc.url),
			} {
				if strings.Contains(text, secret) {
					t.Errorf("%s shows the password: %s", what, text)
				}
			}
			t.Logf("Open: %v", err)
		})
	}
}

// TestTextPostgreSQLCannotHold: a NUL character, which PostgreSQL's text cannot hold, is the
// request's fault (errs.ErrInvalid), not a failure of the store.
func TestTextPostgreSQLCannotHold(t *testing.T) {
	s := open(t, pgtest.URL(t))
	defer s.Close()
	if _, err := s.CreateStudent(context.Background(), "Ave\x00rill", "Simen"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("CreateStudent with a NUL = %v, want errs.ErrInvalid", err)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db"},
		{"postgres://h/db?password=pw&user=u", "postgres://h/db?password=xxxxx&user=u"},
		{"postgres://u:pw@h:port/db", "(a database URL that does not parse)"},
	} {
		if got := pgstore.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsURL(t *testing.T) {
	for in, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://u:p@h:5432/db": true, "POSTGRES://h/db": true,
		"": false, "bolt": false, "mysql://h/db": false, "h:5432": false, "postgres:h": false,
	} {
		if got := pgstore.IsURL(in); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", in, got, want)
		}
	}
}
