package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gradebook/gradebook/grading"
)

// Store is a grading.Store in a PostgreSQL database, safe for concurrent use and for use by many
// processes at once. Every write is one transaction, committed before the method returns.
type Store struct {
	pool   *pgxpool.Pool
	id     string
	logger log.Logger
	// opTimeout bounds each method when its caller set no deadline: long enough for a connection
	// and a statement, so that a database that stopped answering is reported, not waited for.
	opTimeout time.Duration
	secrets   []string
	// down remembers whether the last call found the database unreachable, so that the log says
	// when that changes rather than once per failed call.
	down atomic.Bool
}

// Open connects to the database cfg names, brings its schema up to date (once, however many
// instances open it at the same moment) and reads the store's ID. An unreachable database is an
// error that wraps errs.ErrUnavailable; Open does not wait for it to come up.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	s := &Store{logger: cfg.Logger, opTimeout: cfg.ConnectTimeout + cfg.StatementTimeout, secrets: secrets(cfg.URL)}
	fail := func(err error) error {
		if unreachable(err) {
			err = fmt.Errorf("%w: %w", errUnavailable, err)
		}
		return scrub(fmt.Errorf("grading store %s: %w", Redact(cfg.URL), err), s.secrets)
	}
	if !IsURL(cfg.URL) {
		return nil, fail(errors.New("want a postgres:// or postgresql:// URL"))
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fail(err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	pcfg.ConnConfig.Tracer = cfg.QueryTracer
	pcfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "gradebook-grading"
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fail(err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fail(err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT store_id FROM store_meta`).Scan(&s.id); err != nil {
		s.pool.Close()
		return nil, fail(fmt.Errorf("read the store's ID: %w", err))
	}
	return s, nil
}

// bound gives ctx the store's own deadline unless it has an earlier one.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

// answer turns the error of op into what the store returns: domain errors as they are, an
// unreachable database as "storage unavailable", anything else as an internal error naming op.
// It also notes whether the database answered, for the log.
func (s *Store) answer(op string, err error) error {
	switch {
	case err == nil || domainError(err):
		s.reachable()
		return err
	case errors.Is(err, context.Canceled):
		// The caller went away: that says nothing about the database.
		return fmt.Errorf("grading store: %s: %w", op, err)
	case unreachable(err):
		s.unreachable(err)
		return &unavailableError{cause: scrub(err, s.secrets)}
	}
	s.reachable()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22021" { // character_not_in_repertoire: a NUL
		return errNUL
	}
	return scrub(fmt.Errorf("grading store: %s: %w", op, err), s.secrets)
}

func (s *Store) unreachable(err error) {
	if s.down.CompareAndSwap(false, true) {
		level.Warn(s.logger).Log("msg", "the database is unreachable; answering storage unavailable", "err", scrub(err, s.secrets))
	}
}

func (s *Store) reachable() {
	if s.down.CompareAndSwap(true, false) {
		level.Info(s.logger).Log("msg", "the database is reachable again")
	}
}

// studentsQuery reads students with their grades, students in ID order and each one's grades in
// insertion order, in one statement and so from one snapshot.
const studentsQuery = `
SELECT s.id, s.first_name, s.last_name, g.id, g.version, g.title, g.type, g.score, g.entered_by, g.entered_at
FROM students s LEFT JOIN grades g ON g.student_id = s.id AND g.removed_at IS NULL`

func scanStudents(rows pgx.Rows) ([]grading.Student, error) {
	defer rows.Close()
	students := []grading.Student{}
	for rows.Next() {
		var (
			id          int
			first, last string
			gradeID     *int
			version     *int
			title, typ  *string
			score       *float64
			enteredBy   *string
			enteredAt   *time.Time
		)
		if err := rows.Scan(&id, &first, &last, &gradeID, &version, &title, &typ, &score, &enteredBy, &enteredAt); err != nil {
			return nil, err
		}
		if n := len(students); n == 0 || students[n-1].ID != id {
			students = append(students, grading.Student{ID: id, FirstName: first, LastName: last, Grades: []grading.Grade{}})
		}
		if title != nil {
			st := &students[len(students)-1]
			g := grading.Grade{ID: *gradeID, Version: *version, Title: *title, Type: *typ, Score: *score, EnteredBy: *enteredBy}
			if enteredAt != nil {
				g.EnteredAt = enteredAt.UTC()
			}
			st.Grades = append(st.Grades, g)
		}
	}
	return students, rows.Err()
}

// ListStudents implements grading.Store.
func (s *Store) ListStudents(ctx context.Context) ([]grading.Student, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, studentsQuery+` ORDER BY s.id, g.id`)
	if err != nil {
		return nil, s.answer("list students", err)
	}
	students, err := scanStudents(rows)
	if err != nil {
		return nil, s.answer("list students", err)
	}
	return students, s.answer("list students", nil)
}

// GetStudent implements grading.Store.
func (s *Store) GetStudent(ctx context.Context, id int) (grading.Student, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, studentsQuery+` WHERE s.id = $1 ORDER BY g.id`, id)
	if err != nil {
		return grading.Student{}, s.answer(fmt.Sprintf("get student %d", id), err)
	}
	students, err := scanStudents(rows)
	if err == nil && len(students) == 0 {
		err = grading.ErrStudentNotFound
	}
	if err != nil {
		return grading.Student{}, s.answer(fmt.Sprintf("get student %d", id), err)
	}
	return students[0], s.answer("get student", nil)
}

// CreateStudent implements grading.Store. The ID comes from the table's identity sequence, so
// that instances sharing the database never hand out the same one.
func (s *Store) CreateStudent(ctx context.Context, firstName, lastName string) (grading.Student, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	st := grading.Student{FirstName: firstName, LastName: lastName, Grades: []grading.Grade{}}
	err := s.pool.QueryRow(ctx, `INSERT INTO students (first_name, last_name) VALUES ($1, $2) RETURNING id`,
		firstName, lastName).Scan(&st.ID)
	if err != nil {
		return grading.Student{}, s.answer("create student", err)
	}
	return st, s.answer("create student", nil)
}

// AddGrade implements grading.Store. The key is a unique column of the grade's own row, so that
// a key and its grade are one write. The same key arriving at two instances at once is settled
// by that unique index: the second insert waits for the first transaction, then does nothing,
// and its caller is answered with the grade that won.
func (s *Store) AddGrade(ctx context.Context, studentID int, g grading.Grade, idempotencyKey string) (grading.Grade, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var key []byte // NULL without a key: NULLs never conflict, so every such write is a new grade
	if idempotencyKey != "" {
		key = []byte(idempotencyKey)
	}
	var answer grading.Grade
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A repeat is answered before anything else, as the key alone decides it.
		if key != nil {
			if found, err := firstUse(ctx, tx, key, studentID, g, &answer); err != nil || found {
				return err
			}
		}
		// Locking the student's row makes grades of one student commit in the order of their
		// IDs, so that a reader never sees a later grade before an earlier one.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM students WHERE id = $1 FOR NO KEY UPDATE`, studentID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return grading.ErrStudentNotFound
		}
		if err != nil {
			return err
		}
		var id int
		err = tx.QueryRow(ctx, `
			INSERT INTO grades (student_id, title, type, score, idempotency_key, entered_by, entered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (idempotency_key) DO NOTHING
			RETURNING id`, studentID, g.Title, g.Type, g.Score, key, g.EnteredBy, enteredAt(g)).Scan(&id)
		if err == nil {
			answer = g
			answer.ID, answer.Version = id, 1
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Another instance committed this key since the look-up above: its grade is the answer.
		found, err := firstUse(ctx, tx, key, studentID, g, &answer)
		if err == nil && !found {
			err = errors.New("an Idempotency-Key conflicted but its grade cannot be read")
		}
		return err
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: no such student
			err = grading.ErrStudentNotFound
		}
		return grading.Grade{}, s.answer(fmt.Sprintf("add grade to student %d", studentID), err)
	}
	return answer, s.answer("add grade", nil)
}

// enteredAt is g's EnteredAt as a column value: NULL when it is not known.
func enteredAt(g grading.Grade) *time.Time {
	if g.EnteredAt.IsZero() {
		return nil
	}
	return &g.EnteredAt
}

// firstUse looks up the grade stored under key. When there is one, it sets answer to it if it is
// the same student and grade, and answers ErrIdempotencyConflict if not.
func firstUse(ctx context.Context, tx pgx.Tx, key []byte, studentID int, g grading.Grade, answer *grading.Grade) (bool, error) {
	var stored grading.Grade
	var storedStudent int
	var storedAt *time.Time
	err := tx.QueryRow(ctx, `SELECT student_id, id, version, title, type, score, entered_by, entered_at FROM grades WHERE idempotency_key = $1`, key).
		Scan(&storedStudent, &stored.ID, &stored.Version, &stored.Title, &stored.Type, &stored.Score, &stored.EnteredBy, &storedAt)
	if storedAt != nil {
		stored.EnteredAt = storedAt.UTC()
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	if stored.Version > 1 {
		// Corrected or removed since: the answer is the grade as first entered, as the first
		// history entry kept it.
		if err := tx.QueryRow(ctx, `SELECT old_title, old_type, old_score FROM grade_history WHERE grade_id = $1 ORDER BY id LIMIT 1`, stored.ID).
			Scan(&stored.Title, &stored.Type, &stored.Score); err != nil {
			return false, err
		}
		stored.Version = 1
	}
	switch {
	case storedStudent != studentID || !stored.SameEntry(g):
		return true, grading.ErrIdempotencyConflict
	}
	*answer = stored
	return true, nil
}

// SeedIfEmpty implements grading.Store. The check and the inserts are one transaction that first
// locks the students table against every other writer of students (and every other seed), so
// that of N instances starting at once exactly one seeds, and never into a store that a user
// wrote to meanwhile. Grades are not blocked: they can only go to students that exist.
func (s *Store) SeedIfEmpty(ctx context.Context, students []grading.Student) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// A store in use is the common case at start, and is told without taking the lock.
	var used bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM students)`).Scan(&used); err != nil || used {
		return 0, s.answer("seed", err)
	}
	added := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE students IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM students)`).Scan(&used); err != nil || used {
			return err
		}
		for _, st := range students {
			var id int
			if err := tx.QueryRow(ctx, `INSERT INTO students (first_name, last_name) VALUES ($1, $2) RETURNING id`,
				st.FirstName, st.LastName).Scan(&id); err != nil {
				return fmt.Errorf("student %s %s: %w", st.FirstName, st.LastName, err)
			}
			for _, g := range st.Grades {
				if _, err := tx.Exec(ctx, `INSERT INTO grades (student_id, title, type, score, entered_by, entered_at) VALUES ($1, $2, $3, $4, $5, $6)`,
					id, g.Title, g.Type, g.Score, g.EnteredBy, enteredAt(g)); err != nil {
					return fmt.Errorf("student %s %s: %w", st.FirstName, st.LastName, err)
				}
			}
		}
		added = len(students)
		return nil
	})
	if err != nil {
		return 0, s.answer("seed", err)
	}
	return added, s.answer("seed", nil)
}

// Ping implements grading.Pinger: a round trip to the database, within ctx's deadline. It fails
// while the database is unreachable and succeeds again once it is back, as the pool reconnects.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.answer("ping", s.pool.Ping(ctx))
}

// ID implements grading.Store: the ID the first migration made in the database, "pg-" and a
// random UUID.
func (s *Store) ID() string { return s.id }

// Close implements grading.Store: it closes every connection, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
