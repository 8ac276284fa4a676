package grading

import (
	"context"
	"time"
)

// ifVersionLog is a precondition as a log value: the version, or "none".
func ifVersionLog(v *int) any {
	if v == nil {
		return "none"
	}
	return *v
}

func (s *loggingService) GetGrade(ctx context.Context, studentID, gradeID int) (g Grade, err error) {
	defer func(begin time.Time) {
		if s.quiet(false, err) {
			return
		}
		s.log(ctx, false, err, "msg", "get grade", "method", "GetGrade", "student_id", studentID, "grade_id", gradeID, "took", time.Since(begin))
	}(time.Now())
	return s.next.GetGrade(ctx, studentID, gradeID)
}

func (s *loggingService) UpdateGrade(ctx context.Context, studentID, gradeID int, change GradeChange, ifVersion *int, idempotencyKey string) (g Grade, err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "correct grade", "method", "UpdateGrade", "student_id", studentID, "grade_id", gradeID,
			"if_version", ifVersionLog(ifVersion), "version", g.Version, "changed_by", change.ChangedBy,
			"idempotency_key", idempotencyKey, "took", time.Since(begin))
	}(time.Now())
	return s.next.UpdateGrade(ctx, studentID, gradeID, change, ifVersion, idempotencyKey)
}

func (s *loggingService) RemoveGrade(ctx context.Context, studentID, gradeID int, by string, ifVersion *int, idempotencyKey string) (err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "remove grade", "method", "RemoveGrade", "student_id", studentID, "grade_id", gradeID,
			"if_version", ifVersionLog(ifVersion), "changed_by", by, "idempotency_key", idempotencyKey, "took", time.Since(begin))
	}(time.Now())
	return s.next.RemoveGrade(ctx, studentID, gradeID, by, ifVersion, idempotencyKey)
}

func (s *loggingService) GradeHistory(ctx context.Context, studentID int) (events []GradeEvent, err error) {
	defer func(begin time.Time) {
		if s.quiet(false, err) {
			return
		}
		s.log(ctx, false, err, "msg", "grade history", "method", "GradeHistory", "student_id", studentID, "events", len(events), "took", time.Since(begin))
	}(time.Now())
	return s.next.GradeHistory(ctx, studentID)
}

func (s *loggingService) RenameStudent(ctx context.Context, id int, firstName, lastName string) (st Student, err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "rename student", "method", "RenameStudent", "student_id", id, "took", time.Since(begin))
	}(time.Now())
	return s.next.RenameStudent(ctx, id, firstName, lastName)
}

func (s *loggingService) RemoveStudent(ctx context.Context, id int, force bool) (err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "remove student", "method", "RemoveStudent", "student_id", id, "force", force, "took", time.Since(begin))
	}(time.Now())
	return s.next.RemoveStudent(ctx, id, force)
}

func (s *instrumentingService) GetGrade(ctx context.Context, studentID, gradeID int) (_ Grade, err error) {
	defer func(begin time.Time) { s.observe("GetGrade", begin, err) }(time.Now())
	return s.next.GetGrade(ctx, studentID, gradeID)
}

func (s *instrumentingService) UpdateGrade(ctx context.Context, studentID, gradeID int, change GradeChange, ifVersion *int, idempotencyKey string) (_ Grade, err error) {
	defer func(begin time.Time) { s.observe("UpdateGrade", begin, err) }(time.Now())
	return s.next.UpdateGrade(ctx, studentID, gradeID, change, ifVersion, idempotencyKey)
}

func (s *instrumentingService) RemoveGrade(ctx context.Context, studentID, gradeID int, by string, ifVersion *int, idempotencyKey string) (err error) {
	defer func(begin time.Time) { s.observe("RemoveGrade", begin, err) }(time.Now())
	return s.next.RemoveGrade(ctx, studentID, gradeID, by, ifVersion, idempotencyKey)
}

func (s *instrumentingService) GradeHistory(ctx context.Context, studentID int) (_ []GradeEvent, err error) {
	defer func(begin time.Time) { s.observe("GradeHistory", begin, err) }(time.Now())
	return s.next.GradeHistory(ctx, studentID)
}

func (s *instrumentingService) RenameStudent(ctx context.Context, id int, firstName, lastName string) (_ Student, err error) {
	defer func(begin time.Time) { s.observe("RenameStudent", begin, err) }(time.Now())
	return s.next.RenameStudent(ctx, id, firstName, lastName)
}

func (s *instrumentingService) RemoveStudent(ctx context.Context, id int, force bool) (err error) {
	defer func(begin time.Time) { s.observe("RemoveStudent", begin, err) }(time.Now())
	return s.next.RemoveStudent(ctx, id, force)
}
