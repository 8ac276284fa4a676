package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gradebook/gradebook/grading"
)

// ChangeGrade implements grading.Store. The grade's row is locked, so that two changes of one
// grade, from any instances, are applied one after the other and each sees the version the other
// made. The key is claimed in the change's transaction: the same key arriving at two instances at
// once waits on the primary key for the first transaction, which then either committed (and its
// answer is read) or rolled back (and this one goes on).
func (s *Store) ChangeGrade(ctx context.Context, studentID, gradeID int, w grading.GradeWrite) (grading.Grade, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	request := w.Fingerprint(studentID, gradeID)
	var answer grading.Grade
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A repeat is answered before anything else, as the key alone decides it.
		if w.IdempotencyKey != "" {
			if found, err := changeKeyAnswer(ctx, tx, w.IdempotencyKey, request, &answer); err != nil || found {
				return err
			}
		}
		// The student's row, then the grade's: the order RemoveStudent locks them in, so that
		// the two wait for each other rather than deadlock.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM students WHERE id = $1 FOR KEY SHARE`, studentID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return grading.ErrStudentNotFound
		}
		if err != nil {
			return err
		}
		var old grading.Grade
		var oldAt *time.Time
		err = tx.QueryRow(ctx, `
			SELECT id, version, title, type, score, entered_by, entered_at FROM grades
			WHERE id = $1 AND student_id = $2 AND removed_at IS NULL FOR NO KEY UPDATE`, gradeID, studentID).
			Scan(&old.ID, &old.Version, &old.Title, &old.Type, &old.Score, &old.EnteredBy, &oldAt)
		if errors.Is(err, pgx.ErrNoRows) {
			// Perhaps removed by the same request under the same key, committed while this one
			// waited for the row: then its answer is this one's.
			if w.IdempotencyKey != "" {
				if found, err := changeKeyAnswer(ctx, tx, w.IdempotencyKey, request, &answer); err != nil || found {
					return err
				}
			}
			return grading.ErrGradeNotFound
		}
		if err != nil {
			return err
		}
		if oldAt != nil {
			old.EnteredAt = oldAt.UTC()
		}
		if w.IdempotencyKey != "" {
			tag, err := tx.Exec(ctx, `
				INSERT INTO grade_change_keys (idempotency_key, student_id, grade_id, request) VALUES ($1, $2, $3, $4)
				ON CONFLICT (idempotency_key) DO NOTHING`, []byte(w.IdempotencyKey), studentID, gradeID, request)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				// Another instance committed this key since the look-up above.
				found, err := changeKeyAnswer(ctx, tx, w.IdempotencyKey, request, &answer)
				if err == nil && !found {
					err = errors.New("an Idempotency-Key conflicted but its answer cannot be read")
				}
				return err
			}
		}
		if w.IfVersion != nil && *w.IfVersion != old.Version {
			return grading.ErrVersionMismatch
		}
		var event grading.GradeEvent
		if w.Remove {
			if _, err := tx.Exec(ctx, `UPDATE grades SET removed_at = $2, version = version + 1 WHERE id = $1`, gradeID, w.At); err != nil {
				return err
			}
			answer = old
			event = w.Event(studentID, old, nil)
		} else {
			g := w.Change.Apply(old)
			g.Version = old.Version + 1
			if _, err := tx.Exec(ctx, `UPDATE grades SET title = $2, type = $3, score = $4, version = $5 WHERE id = $1`,
				gradeID, g.Title, g.Type, g.Score, g.Version); err != nil {
				return err
			}
			answer = g
			event = w.Event(studentID, old, &g)
		}
		var newTitle, newType *string
		var newScore *float64
		if event.New != nil {
			newTitle, newType, newScore = &event.New.Title, &event.New.Type, &event.New.Score
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO grade_history (student_id, grade_id, action, version, changed_by, changed_at,
				old_title, old_type, old_score, new_title, new_type, new_score)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			studentID, gradeID, event.Action, event.Version, event.By, event.At,
			old.Title, old.Type, old.Score, newTitle, newType, newScore); err != nil {
			return err
		}
		if w.IdempotencyKey != "" {
			b, err := json.Marshal(answer)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE grade_change_keys SET answer = $2 WHERE idempotency_key = $1`, []byte(w.IdempotencyKey), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return grading.Grade{}, s.answer(fmt.Sprintf("change grade %d of student %d", gradeID, studentID), err)
	}
	return answer, s.answer("change grade", nil)
}

// changeKeyAnswer looks up the change stored under key: when there is one, it sets answer to its
// answer if it was the same request, and answers ErrIdempotencyConflict if not.
func changeKeyAnswer(ctx context.Context, tx pgx.Tx, key, request string, answer *grading.Grade) (bool, error) {
	var stored string
	var b []byte
	err := tx.QueryRow(ctx, `SELECT request, answer FROM grade_change_keys WHERE idempotency_key = $1`, []byte(key)).Scan(&stored, &b)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	case stored != request:
		return true, grading.ErrIdempotencyConflict
	}
	if err := json.Unmarshal(b, answer); err != nil {
		return true, fmt.Errorf("corrupt answer under an Idempotency-Key: %w", err)
	}
	return true, nil
}

// GradeHistory implements grading.Store.
func (s *Store) GradeHistory(ctx context.Context, studentID int) ([]grading.GradeEvent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	events := []grading.GradeEvent{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM students WHERE id = $1)`, studentID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return grading.ErrStudentNotFound
		}
		rows, err := tx.Query(ctx, `
			SELECT h.grade_id, h.action, h.version, h.changed_by, h.changed_at, h.old_title, h.old_type, h.old_score,
				h.new_title, h.new_type, h.new_score, g.entered_by, g.entered_at
			FROM grade_history h JOIN grades g ON g.id = h.grade_id
			WHERE h.student_id = $1 ORDER BY h.id`, studentID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := grading.GradeEvent{StudentID: studentID}
			var newTitle, newType *string
			var newScore *float64
			var enteredAt *time.Time
			if err := rows.Scan(&e.GradeID, &e.Action, &e.Version, &e.By, &e.At, &e.Old.Title, &e.Old.Type, &e.Old.Score,
				&newTitle, &newType, &newScore, &e.Old.EnteredBy, &enteredAt); err != nil {
				return err
			}
			e.At = e.At.UTC()
			e.Old.ID, e.Old.Version = e.GradeID, e.Version-1
			if enteredAt != nil {
				e.Old.EnteredAt = enteredAt.UTC()
			}
			if newTitle != nil {
				g := e.Old
				g.Title, g.Type, g.Score, g.Version = *newTitle, *newType, *newScore, e.Version
				e.New = &g
			}
			events = append(events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.answer(fmt.Sprintf("history of student %d", studentID), err)
	}
	return events, s.answer("history", nil)
}

// RenameStudent implements grading.Store.
func (s *Store) RenameStudent(ctx context.Context, id int, firstName, lastName string) (grading.Student, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE students SET first_name = $2, last_name = $3 WHERE id = $1`, id, firstName, lastName)
	if err == nil && tag.RowsAffected() == 0 {
		err = grading.ErrStudentNotFound
	}
	if err != nil {
		return grading.Student{}, s.answer(fmt.Sprintf("rename student %d", id), err)
	}
	return s.GetStudent(ctx, id)
}

// RemoveStudent implements grading.Store. Locking the student's row first makes a grade being
// added to them meanwhile either commit before (and count) or fail after, as for no student.
func (s *Store) RemoveStudent(ctx context.Context, id int, force bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM students WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return grading.ErrStudentNotFound
		}
		if err != nil {
			return err
		}
		// Changes of their grades under way finish first; those that come later find no grade.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM grades WHERE student_id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		if !force {
			var has bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grades WHERE student_id = $1 AND removed_at IS NULL)`, id).Scan(&has); err != nil {
				return err
			}
			if has {
				return grading.ErrStudentHasGrades
			}
		}
		for _, q := range []string{
			`DELETE FROM grade_change_keys WHERE student_id = $1`,
			`DELETE FROM grade_history WHERE student_id = $1`,
			`DELETE FROM grades WHERE student_id = $1`,
			`DELETE FROM students WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return s.answer(fmt.Sprintf("remove student %d", id), err)
}
