package portal

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// The pages that correct and remove grades, show their history, and rename and remove students.
// Every form here is an ordinary post, guarded like the others (a session when sign-in is on,
// cross-origin posts refused); removals go through a page that asks first, so nothing is removed
// by one stray click, with or without JavaScript.

// Views of these pages.
type (
	// editForm is a grade row's edit form: the values it shows, the version of the grade they
	// came from (sent back, so that a change made meanwhile is never overwritten unseen), its
	// Idempotency-Key, and whether it is open with problems to show.
	editForm struct {
		Title, Type, Score string
		Version            int
		Key                string
		Open               bool
		Errors             map[string]string
	}

	historyRow struct{ When, By, Action, What string }

	// historyPage lists a student's corrections and removals, newest first.
	historyPage struct {
		Nav         string
		StudentID   int
		StudentName string
		History     []historyRow
	}

	removeGradePage struct {
		Nav         string
		StudentID   int
		StudentName string
		Grade       gradeRow
		Version     int
		Key         string
		Error       string
	}

	editStudentPage struct {
		Nav         string
		Student     studentView
		Rename      studentForm
		ConfirmName string
		Force       bool
		Errors      map[string]string
	}
)

func newEditForm(g grading.Grade) editForm {
	return editForm{Title: g.Title, Type: g.Type, Score: formatScore(g.Score), Version: g.Version, Key: newKey()}
}

// addChangeRoutes puts this file's pages on r, each wrapped by page (sign-in, cross-origin
// refusal, security headers). A GET of a path that only takes posts goes to the page its form is
// on, which is also where signing in comes back to.
func (p *pages) addChangeRoutes(r *mux.Router, page func(http.HandlerFunc) http.Handler) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/students.csv", page(p.exportCSV)).Methods(get...)
	r.Handle("/students/{id}/grades/{gradeID}", page(p.editGrade)).Methods(http.MethodPost)
	r.Handle("/students/{id}/grades/{gradeID}", page(p.toGradeRow)).Methods(get...)
	r.Handle("/students/{id}/grades/{gradeID}/remove", page(p.confirmRemoveGrade)).Methods(get...)
	r.Handle("/students/{id}/grades/{gradeID}/remove", page(p.removeGrade)).Methods(http.MethodPost)
	r.Handle("/students/{id}/edit", page(p.showEditStudent)).Methods(get...)
	r.Handle("/students/{id}/rename", page(p.renameStudent)).Methods(http.MethodPost)
	r.Handle("/students/{id}/remove", page(p.removeStudent)).Methods(http.MethodPost)
	r.Handle("/students/{id}/rename", page(p.toEditStudent)).Methods(get...)
	r.Handle("/students/{id}/remove", page(p.toEditStudent)).Methods(get...)
}

// stampChangedBy sets who corrects or removes a grade to whoever makes the request, on the pages
// and through /api/v1 alike, as stampEnteredBy does for new grades.
func stampChangedBy(eps *grading.Endpoints) {
	update, remove := eps.UpdateGradeEndpoint, eps.RemoveGradeEndpoint
	eps.UpdateGradeEndpoint = func(ctx context.Context, request any) (any, error) {
		if req, ok := request.(grading.UpdateGradeRequest); ok {
			req.Change.ChangedBy = userFrom(ctx)
			request = req
		}
		return update(ctx, request)
	}
	eps.RemoveGradeEndpoint = func(ctx context.Context, request any) (any, error) {
		if req, ok := request.(grading.RemoveGradeRequest); ok {
			req.By = userFrom(ctx)
			request = req
		}
		return remove(ctx, request)
	}
}

// listNotice is what the list of students says after a change that led there.
func listNotice(r *http.Request) string {
	if r.URL.Query().Get("removed") == "student" {
		return "The student was removed."
	}
	return ""
}

// renderStudentPage shows a student's page: their grades, each with its edit form (edit, when
// set, replaces the form of its grade, opened with its problems), and the add form. The page
// makes one grading call; the history has its own page, linked from this one.
func (p *pages) renderStudentPage(w http.ResponseWriter, r *http.Request, status, id int, page studentPage, edit *editFormFor) {
	st, err := p.svc.GetStudent(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Nav, page.Types = "students", typeOptions(page.Form.Type)
	page.Student = newStudentView(st)
	if page.Notice == "" && status == http.StatusOK {
		page.Notice = changeNotice(r.URL.Query().Get("changed"), page.Student)
	}
	if edit != nil {
		found := false
		for i := range page.Student.Grades {
			if page.Student.Grades[i].ID == edit.GradeID {
				page.Student.Grades[i].Edit = edit.Form
				found = true
			}
		}
		if msg := edit.Form.Errors["form"]; msg != "" && !found {
			if page.Errors == nil {
				page.Errors = map[string]string{}
			}
			page.Errors["edit"] = msg
		}
	}
	for i := range page.Student.Grades {
		g := &page.Student.Grades[i]
		g.Types, g.StudentID = typeOptions(g.Edit.Type), page.Student.ID
	}
	p.renderStudentHTML(w, r, status, &page)
}

// showHistory shows a student's history: every correction and removal of their grades, newest
// first. It answers as the student's page does when the student is unknown or grading cannot.
func (p *pages) showHistory(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	// The student (for their name) and their history are asked for at once, so the page waits
	// for the slower of the two calls rather than for both in turn.
	type history struct {
		events []grading.GradeEvent
		err    error
	}
	hc := make(chan history, 1)
	go func() {
		events, err := p.svc.GradeHistory(r.Context(), id)
		hc <- history{events, err}
	}()
	st, err := p.svc.GetStudent(r.Context(), id)
	h := <-hc
	if err == nil {
		err = h.err
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "history", historyPage{
		Nav: "students", StudentID: st.ID, StudentName: fullName(st), History: historyRows(h.events),
	})
}

// editFormFor is an edit form to show in place of the one of grade GradeID.
type editFormFor struct {
	GradeID int
	Form    editForm
}

// changeNotice is what a student's page says after a change that led there, with the average the
// change left.
func changeNotice(changed string, v studentView) string {
	avg := "The average is now " + v.Average + "."
	if v.GradeCount == 0 {
		avg = "There are no grades left, so there is no average."
	}
	switch changed {
	case "corrected":
		return "Grade corrected. " + avg
	case "removed":
		return "Grade removed. " + avg
	case "renamed":
		return "Student renamed."
	}
	return ""
}

// historyRows shows the history newest first, each change in words.
func historyRows(events []grading.GradeEvent) []historyRow {
	rows := make([]historyRow, 0, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		row := historyRow{When: e.At.UTC().Format("2006-01-02 15:04:05 UTC"), By: e.By, Action: e.Action}
		if row.By == "" {
			row.By = "someone (open portal)"
		}
		old := e.Old
		if e.Action == grading.ActionRemoved || e.New == nil {
			row.What = gradeSummary(old) + " removed"
		} else {
			row.What = old.Title + ": " + describeChange(old, *e.New)
		}
		rows = append(rows, row)
	}
	return rows
}

func gradeSummary(g grading.Grade) string {
	return g.Title + " (" + g.Type + ", " + formatScore(g.Score) + ")"
}

// describeChange says what a correction changed: "score 85 → 91; type Quiz → Test".
func describeChange(old, new grading.Grade) string {
	var parts []string
	if old.Score != new.Score {
		parts = append(parts, "score "+formatScore(old.Score)+" → "+formatScore(new.Score))
	}
	if old.Title != new.Title {
		parts = append(parts, "title "+strconv.Quote(old.Title)+" → "+strconv.Quote(new.Title))
	}
	if old.Type != new.Type {
		parts = append(parts, "type "+old.Type+" → "+new.Type)
	}
	if len(parts) == 0 {
		return "saved unchanged"
	}
	return strings.Join(parts, "; ")
}

// gradeIDs reads {id} and {gradeID}; false when either is not an ID.
func gradeIDs(r *http.Request) (sid, gid int, ok bool) {
	sid, ok = studentID(r)
	if !ok {
		return 0, 0, false
	}
	gid, ok = grading.ParseGradeID(mux.Vars(r)["gradeID"])
	return sid, gid, ok
}

// formVersion reads the version a form showed; false when it is missing or not a version.
func formVersion(r *http.Request) (int, bool) {
	return grading.ParseStudentID(strings.TrimSpace(r.PostFormValue("version")))
}

func (p *pages) toGradeRow(w http.ResponseWriter, r *http.Request) {
	sid, gid, ok := gradeIDs(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	http.Redirect(w, r, "/students/"+strconv.Itoa(sid)+"#grade-"+strconv.Itoa(gid), http.StatusSeeOther)
}

func (p *pages) toEditStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	http.Redirect(w, r, "/students/"+strconv.Itoa(id)+"/edit", http.StatusSeeOther)
}

// editGrade corrects a grade from its row's form, if the grade is still at the version the form
// showed.
func (p *pages) editGrade(w http.ResponseWriter, r *http.Request) {
	sid, gid, ok := gradeIDs(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	f := editForm{
		Title: r.PostFormValue("title"), Type: r.PostFormValue("type"),
		Score: strings.TrimSpace(r.PostFormValue("score")), Key: r.PostFormValue("idempotencyKey"),
		Open: true, Errors: map[string]string{},
	}
	if f.Key == "" {
		f.Key = newKey()
	}
	version, ok := formVersion(r)
	f.Version = version
	again := func(status int) {
		p.renderStudentPage(w, r, status, sid, studentPage{Form: gradeForm{Type: grading.TypeQuiz, Key: newKey()}}, &editFormFor{GradeID: gid, Form: f})
	}
	if !ok {
		f.Errors["form"] = "This form does not say which version of the grade it showed, so nothing was saved. Reload the page and edit the grade again."
		again(http.StatusBadRequest)
		return
	}
	change := grading.GradeChange{Title: &f.Title, Type: &f.Type, ChangedBy: userFrom(r.Context())}
	if f.Score == "" {
		f.Errors["score"] = "is required"
	} else if score, err := grading.ParseScore(f.Score); err != nil {
		f.Errors["score"] = "must be a number from 0 to 100, written with digits and at most one decimal point, such as 87 or 87.5"
	} else {
		change.Score = &score
	}
	if change.Score == nil {
		zero := 0.0
		change.Score = &zero // only to check the other fields
	}
	for k, v := range change.Valid(r.Context()) {
		if _, seen := f.Errors[k]; !seen {
			f.Errors[k] = v
		}
	}
	if len(f.Errors) > 0 {
		f.Errors = editProblems(f.Errors)
		again(http.StatusUnprocessableEntity)
		return
	}
	_, err := p.svc.UpdateGrade(r.Context(), sid, gid, change, &version, f.Key)
	if problems, ok := fieldErrors(err); ok {
		f.Errors = editProblems(problems)
		again(http.StatusUnprocessableEntity)
		return
	}
	switch {
	case err == nil:
		http.Redirect(w, r, "/students/"+strconv.Itoa(sid)+"?changed=corrected#grade-"+strconv.Itoa(gid), http.StatusSeeOther)
	case errors.Is(err, grading.ErrVersionMismatch):
		// Someone changed the grade after this form was shown. Nothing was saved; the row now
		// shows the grade as it is, and the form keeps what this teacher typed, under the
		// current version, so that saving again is a decision made knowing the other change.
		cur, gerr := p.svc.GetGrade(r.Context(), sid, gid)
		if errors.Is(gerr, grading.ErrGradeNotFound) {
			f.Errors["form"] = "This grade was removed by someone else after the page was shown, so your change was not saved."
			again(http.StatusConflict)
			return
		}
		if gerr != nil {
			p.failChange(w, r, gerr, "/students/"+strconv.Itoa(sid))
			return
		}
		f.Version, f.Key = cur.Version, newKey()
		f.Errors["form"] = "Someone else changed this grade after the page was shown: it now reads " + gradeSummary(cur) +
			". Your change was not saved. Your values are still in the form: save again to replace theirs, or leave it."
		again(http.StatusConflict)
	case errors.Is(err, grading.ErrGradeNotFound):
		f.Errors["form"] = "This grade no longer exists (someone removed it), so your change was not saved."
		again(http.StatusConflict)
	case errors.Is(err, errs.ErrConflict):
		f.Key = newKey()
		f.Errors["form"] = "This form had already been used for another change, so nothing was saved. Check the values and save again."
		again(http.StatusConflict)
	default:
		p.failChange(w, r, err, "/students/"+strconv.Itoa(sid))
	}
}

// editProblems moves the problems no field of the edit form shows to the form.
func editProblems(problems map[string]string) map[string]string {
	for _, k := range []string{"idempotencyKey", "changedBy", "change"} {
		if msg, ok := problems[k]; ok {
			delete(problems, k)
			problems["form"] = "The change could not be saved (" + k + " " + msg + "); reload the page and try again."
		}
	}
	return problems
}

// confirmRemoveGrade asks whether to remove a grade, showing it as it is now.
func (p *pages) confirmRemoveGrade(w http.ResponseWriter, r *http.Request) {
	sid, gid, ok := gradeIDs(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	p.renderRemoveGrade(w, r, http.StatusOK, sid, gid, "")
}

func (p *pages) renderRemoveGrade(w http.ResponseWriter, r *http.Request, status, sid, gid int, problem string) {
	st, err := p.svc.GetStudent(r.Context(), sid)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var g *grading.Grade
	for i := range st.Grades {
		if st.Grades[i].ID == gid {
			g = &st.Grades[i]
		}
	}
	if g == nil {
		p.gradeGone(w, r, sid)
		return
	}
	row := newStudentView(grading.Student{Grades: []grading.Grade{*g}}).Grades[0]
	p.render(w, r, status, "remove-grade", removeGradePage{
		Nav: "students", StudentID: sid, StudentName: fullName(st), Grade: row, Version: g.Version, Key: newKey(), Error: problem,
	})
}

// gradeGone answers a grade that is not (or no longer) there.
func (p *pages) gradeGone(w http.ResponseWriter, r *http.Request, sid int) {
	p.problem(w, r, http.StatusNotFound, problemPage{
		Title:     "No such grade",
		Detail:    "This student has no such grade: it may have been removed already.",
		Back:      "/students/" + strconv.Itoa(sid),
		BackLabel: "Open the student's page",
	})
}

// removeGrade removes a grade once the teacher confirmed, if it is still at the version shown.
func (p *pages) removeGrade(w http.ResponseWriter, r *http.Request) {
	sid, gid, ok := gradeIDs(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	version, ok := formVersion(r)
	if !ok {
		p.renderRemoveGrade(w, r, http.StatusBadRequest, sid, gid, "The form did not say which version of the grade it showed, so nothing was removed. Look at the grade below and confirm again.")
		return
	}
	key := r.PostFormValue("idempotencyKey")
	if key == "" {
		key = newKey()
	}
	err := p.svc.RemoveGrade(r.Context(), sid, gid, userFrom(r.Context()), &version, key)
	switch {
	case err == nil:
		http.Redirect(w, r, "/students/"+strconv.Itoa(sid)+"?changed=removed", http.StatusSeeOther)
	case errors.Is(err, grading.ErrVersionMismatch):
		p.renderRemoveGrade(w, r, http.StatusConflict, sid, gid, "Someone else changed this grade after you asked to remove it, so it was not removed. It now reads as below: confirm again to remove it.")
	case errors.Is(err, grading.ErrGradeNotFound):
		p.gradeGone(w, r, sid)
	case errors.Is(err, errs.ErrInvalid), errors.Is(err, errs.ErrConflict):
		p.renderRemoveGrade(w, r, http.StatusConflict, sid, gid, "The form could not be used ("+err.Error()+"), so nothing was removed. Confirm again.")
	default:
		p.failChange(w, r, err, "/students/"+strconv.Itoa(sid))
	}
}

func (p *pages) showEditStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	p.renderEditStudent(w, r, http.StatusOK, id, nil, editStudentPage{})
}

// renderEditStudent shows the rename and remove forms; rename, when given, replaces the names
// the rename form shows.
func (p *pages) renderEditStudent(w http.ResponseWriter, r *http.Request, status, id int, rename *studentForm, page editStudentPage) {
	st, err := p.svc.GetStudent(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Nav, page.Student = "students", newStudentView(st)
	page.Rename = studentForm{FirstName: st.FirstName, LastName: st.LastName}
	if rename != nil {
		page.Rename = *rename
	}
	p.render(w, r, status, "edit-student", page)
}

func (p *pages) renameStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	form := studentForm{FirstName: r.PostFormValue("firstName"), LastName: r.PostFormValue("lastName")}
	req := grading.RenameStudentRequest{ID: id, FirstName: form.FirstName, LastName: form.LastName}
	if problems := req.Valid(r.Context()); len(problems) > 0 {
		p.renderEditStudent(w, r, http.StatusUnprocessableEntity, id, &form, editStudentPage{Errors: problems})
		return
	}
	_, err := p.svc.RenameStudent(r.Context(), id, req.FirstName, req.LastName)
	if problems, ok := fieldErrors(err); ok {
		p.renderEditStudent(w, r, http.StatusUnprocessableEntity, id, &form, editStudentPage{Errors: problems})
		return
	}
	if err != nil {
		p.failChange(w, r, err, "/students/"+strconv.Itoa(id)+"/edit")
		return
	}
	http.Redirect(w, r, "/students/"+strconv.Itoa(id)+"?changed=renamed", http.StatusSeeOther)
}

// sameName compares names as a teacher types them: spaces around and between words do not count.
func sameName(typed, name string) bool {
	return strings.Join(strings.Fields(typed), " ") == strings.Join(strings.Fields(name), " ")
}

// removeStudent removes a student once the teacher typed their name; one who still has grades
// only when the teacher also ticked that their grades go too.
func (p *pages) removeStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	page := editStudentPage{ConfirmName: r.PostFormValue("confirmName"), Force: r.PostFormValue("force") != "", Errors: map[string]string{}}
	st, err := p.svc.GetStudent(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if !sameName(page.ConfirmName, fullName(st)) {
		page.Errors["confirmName"] = "type the student's name exactly as shown, " + fullName(st) + ", to remove them"
		p.renderEditStudent(w, r, http.StatusUnprocessableEntity, id, nil, page)
		return
	}
	err = p.svc.RemoveStudent(r.Context(), id, page.Force)
	switch {
	case err == nil:
		http.Redirect(w, r, "/students?removed=student", http.StatusSeeOther)
	case errors.Is(err, grading.ErrStudentHasGrades), errors.Is(err, errs.ErrConflict):
		page.Errors["force"] = "this student still has grades: tick the box to remove them with the student"
		p.renderEditStudent(w, r, http.StatusConflict, id, nil, page)
	case errors.Is(err, errs.ErrNotFound):
		// Removed meanwhile, perhaps by a repeat of this very form: what was asked is done.
		http.Redirect(w, r, "/students?removed=student", http.StatusSeeOther)
	default:
		p.failChange(w, r, err, "/students/"+strconv.Itoa(id)+"/edit")
	}
}

// isChangePost reports whether r posts one of this file's forms: a correction, a removal or a
// rename.
func isChangePost(r *http.Request) bool {
	path := r.URL.Path
	return r.Method == http.MethodPost && strings.HasPrefix(path, "/students/") &&
		(strings.Contains(path, "/grades/") || strings.HasSuffix(path, "/rename") || strings.HasSuffix(path, "/remove"))
}

// changeBack is the page to check a change posted to path on: the student's page for a grade,
// the rename and remove page for a student.
func changeBack(path string) string {
	if i := strings.Index(path, "/grades/"); i >= 0 {
		return path[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(path, "/rename"), "/remove") + "/edit"
}

// failChange answers a change whose grading call failed: the 503 page says the change may not
// have been made and leads back to where it can be checked; anything else as fail.
func (p *pages) failChange(w http.ResponseWriter, r *http.Request, err error, back string) {
	if !errors.Is(err, errs.ErrUnavailable) {
		p.fail(w, r, err)
		return
	}
	log.With(level.Warn(p.logger), requestid.LogFields(r.Context())...).Log("msg", "page could not reach grading", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	p.problem(w, r, http.StatusServiceUnavailable, problemPage{
		Title:     "The grading service is unavailable",
		Detail:    "The grading service is unavailable right now, so the change may not have been made.",
		Hint:      "In a few seconds, open the page again and check before repeating the change: a repeat of the same form is applied only once.",
		Back:      back,
		BackLabel: "Open the page again",
	})
}
