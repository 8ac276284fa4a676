package portal

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// assets holds the templates and the stylesheet, so the binary serves its pages alone.
//
//go:embed templates/*.html static/*
var assets embed.FS

// maxFormBody bounds a form post; the largest honest one is a few hundred bytes.
const maxFormBody = 64 << 10

// maxChartBars is how many of a student's most recent scores the list's bar chart shows.
const maxChartBars = 24

// pageTemplates are the parsed pages, each a copy of the layout with its own content.
type pageTemplates map[string]*template.Template

func parseTemplates() (pageTemplates, error) {
	layout, err := template.ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := pageTemplates{}
	for _, name := range []string{"students", "student", "problem", "status", "login", "remove-grade", "edit-student", "history"} {
		t, err := template.Must(layout.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// staticHandler serves the embedded stylesheet.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// pages serves the HTML pages over a grading.Service: the load-balanced client in production.
type pages struct {
	// open is true when no one needs to sign in: every page says so.
	open   bool
	svc    grading.Service
	status *statusSource
	tmpl   pageTemplates
	logger log.Logger
	bufs   sync.Pool
}

// Views: everything a template shows is prepared here, so the templates only lay it out.
type (
	studentsPage struct {
		Nav      string
		Notice   string
		Students []studentRow
		Form     studentForm
		Errors   map[string]string
	}
	studentRow struct {
		ID         int
		Name       string
		Average    string
		GradeCount int
		Chart      chart
	}
	studentForm struct{ FirstName, LastName string }

	studentPage struct {
		Nav     string
		Student studentView
		Notice  string
		// Types are the add form's type options.
		Types  []typeOption
		Form   gradeForm
		Errors map[string]string
	}
	studentView struct {
		ID         int
		Name       string
		Average    string
		GradeCount int
		Grades     []gradeRow
	}
	gradeRow struct {
		Title, Type, Score, EnteredBy, EnteredAt string
		// ID and Version name the grade and the version shown, which the row's edit form sends
		// back; Edit is that form.
		ID, Version int
		Edit        editForm
		// Types are the edit form's type options, the one of Edit.Type selected.
		Types []typeOption
		// StudentID is the student's, for the row's forms.
		StudentID int
	}
	gradeForm struct{ Title, Type, Score, Key string }

	problemPage struct {
		Nav, Title, Detail, Hint, Back, BackLabel string
	}

	chart struct {
		Width, Height int
		Label         string
		Bars          []chartBar
	}
	chartBar struct {
		X, Y, W, H  int
		Type, Title string
	}
)

func gradeTypes() []string { return []string{grading.TypeTest, grading.TypeHomework, grading.TypeQuiz} }

// typeOption is one option of a form's select of grade types.
type typeOption struct {
	Name     string
	Selected bool
}

// typeOptionSets are the type select's options with each type selected, and (under "") with
// none, made once: the pages only read them.
var typeOptionSets = func() map[string][]typeOption {
	sets := map[string][]typeOption{}
	for _, sel := range append(gradeTypes(), "") {
		for _, t := range gradeTypes() {
			sets[sel] = append(sets[sel], typeOption{Name: t, Selected: t == sel})
		}
	}
	return sets
}()

// typeOptions are the options of a select of grade types with selected selected, or none when
// selected is not a type.
func typeOptions(selected string) []typeOption {
	if opts, ok := typeOptionSets[selected]; ok {
		return opts
	}
	return typeOptionSets[""]
}

// formatAverage shows an average to one decimal, and no average as a dash.
func formatAverage(avg *float64) string {
	if avg == nil {
		return "—"
	}
	return strconv.FormatFloat(*avg, 'f', 1, 64)
}

func formatScore(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

func fullName(st grading.Student) string {
	return strings.TrimSpace(st.FirstName + " " + st.LastName)
}

// scoreChart draws a student's most recent scores as bars 0–100 high.
func scoreChart(grades []grading.Grade) chart {
	const barW, gap, height = 6, 2, 24
	shown := grades
	if len(shown) > maxChartBars {
		shown = shown[len(shown)-maxChartBars:]
	}
	c := chart{Width: max(len(shown)*(barW+gap), barW+gap), Height: height}
	c.Label = "no scores yet"
	if len(shown) > 0 {
		parts := make([]string, len(shown))
		for i, g := range shown {
			parts[i] = formatScore(g.Score)
		}
		c.Label = "scores: " + strings.Join(parts, ", ")
	}
	for i, g := range shown {
		h := int(g.Score/100*float64(height-1) + 0.5)
		h = min(max(h, 1), height-1)
		c.Bars = append(c.Bars, chartBar{
			X: i * (barW + gap), Y: height - 1 - h, W: barW, H: h,
			Type: g.Type, Title: g.Title + ": " + formatScore(g.Score),
		})
	}
	return c
}

func studentRows(students []grading.Student) []studentRow {
	rows := make([]studentRow, len(students))
	for i, st := range students {
		rows[i] = studentRow{
			ID: st.ID, Name: fullName(st), Average: formatAverage(st.Average),
			GradeCount: len(st.Grades), Chart: scoreChart(st.Grades),
		}
	}
	return rows
}

func newStudentView(st grading.Student) studentView {
	v := studentView{ID: st.ID, Name: fullName(st), Average: formatAverage(st.Average), GradeCount: len(st.Grades)}
	v.Grades = make([]gradeRow, len(st.Grades))
	for i, g := range st.Grades {
		v.Grades[i] = gradeRow{Title: g.Title, Type: g.Type, Score: formatScore(g.Score), EnteredBy: g.EnteredBy, ID: g.ID, Version: g.Version}
		v.Grades[i].Edit = newEditForm(g)
		if !g.EnteredAt.IsZero() {
			v.Grades[i].EnteredAt = g.EnteredAt.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return v
}

func (p *pages) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/students", http.StatusSeeOther)
}

func (p *pages) listStudents(w http.ResponseWriter, r *http.Request) {
	p.renderStudentsNotice(w, r, http.StatusOK, listNotice(r), studentForm{}, nil)
}

func (p *pages) renderStudents(w http.ResponseWriter, r *http.Request, status int, form studentForm, problems map[string]string) {
	p.renderStudentsNotice(w, r, status, "", form, problems)
}

func (p *pages) renderStudentsNotice(w http.ResponseWriter, r *http.Request, status int, notice string, form studentForm, problems map[string]string) {
	students, err := p.svc.ListStudents(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, "students", studentsPage{
		Nav: "students", Notice: notice, Students: studentRows(students), Form: form, Errors: problems,
	})
}

func (p *pages) addStudent(w http.ResponseWriter, r *http.Request) {
	if !p.parseForm(w, r) {
		return
	}
	form := studentForm{FirstName: r.PostFormValue("firstName"), LastName: r.PostFormValue("lastName")}
	req := grading.AddStudentRequest{FirstName: form.FirstName, LastName: form.LastName}
	if problems := req.Valid(r.Context()); len(problems) > 0 {
		p.renderStudents(w, r, http.StatusUnprocessableEntity, form, problems)
		return
	}
	st, err := p.svc.AddStudent(r.Context(), req.FirstName, req.LastName)
	if problems, ok := fieldErrors(err); ok {
		p.renderStudents(w, r, http.StatusUnprocessableEntity, form, problems)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/students/"+strconv.Itoa(st.ID)+"?added=student", http.StatusSeeOther)
}

func (p *pages) showStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	var notice string
	switch r.URL.Query().Get("added") {
	case "grade":
		notice = "Grade recorded."
	case "student":
		notice = "Student added. Record their first grade below."
	}
	p.renderStudent(w, r, http.StatusOK, id, notice, gradeForm{Type: grading.TypeQuiz, Key: newKey()}, nil)
}

func (p *pages) renderStudent(w http.ResponseWriter, r *http.Request, status, id int, notice string, form gradeForm, problems map[string]string) {
	p.renderStudentPage(w, r, status, id, studentPage{Notice: notice, Form: form, Errors: problems}, nil)
}

func (p *pages) addGrade(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		p.notFound(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	form := gradeForm{
		Title: r.PostFormValue("title"), Type: r.PostFormValue("type"),
		Score: strings.TrimSpace(r.PostFormValue("score")), Key: r.PostFormValue("idempotencyKey"),
	}
	// The form carries a key made when it was shown, so a double click or a resubmitted page
	// records the grade once; a post without one (curl, say) gets a fresh key, which is what
	// lets the gateway retry it safely on another instance.
	if form.Key == "" {
		form.Key = newKey()
	}
	req := grading.AddGradeRequest{StudentID: id, Grade: grading.Grade{Title: form.Title, Type: form.Type}, IdempotencyKey: form.Key}
	problems := map[string]string{}
	if form.Score != "" {
		score, err := grading.ParseScore(form.Score)
		if err != nil {
			problems["score"] = "must be a number from 0 to 100, written with digits and at most one decimal point, such as 87 or 87.5"
		}
		req.Grade.Score = score
	}
	for k, v := range req.Valid(r.Context()) {
		if _, seen := problems[k]; !seen {
			problems[k] = v
		}
	}
	if form.Score == "" {
		problems["score"] = "is required"
	}
	if len(problems) > 0 {
		p.renderStudent(w, r, http.StatusUnprocessableEntity, id, "", form, formProblems(problems))
		return
	}
	_, err := p.svc.AddGrade(r.Context(), id, req.Grade, req.IdempotencyKey)
	if problems, ok := fieldErrors(err); ok {
		p.renderStudent(w, r, http.StatusUnprocessableEntity, id, "", form, formProblems(problems))
		return
	}
	if errors.Is(err, errs.ErrConflict) {
		// The form's key already recorded a different grade (the page was reused after a
		// successful post). Nothing was written; offer the same values under a fresh key.
		form.Key = newKey()
		p.renderStudent(w, r, http.StatusConflict, id, "", form, map[string]string{
			"form": "This form had already been used to record another grade, so nothing was saved. Check the values and submit again.",
		})
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/students/"+strconv.Itoa(id)+"?added=grade", http.StatusSeeOther)
}

// formProblems moves problems that no form field shows (the idempotency key) to the form.
func formProblems(problems map[string]string) map[string]string {
	if msg, ok := problems["idempotencyKey"]; ok {
		delete(problems, "idempotencyKey")
		problems["form"] = "The form is stale (its key " + msg + "); reload the page and submit again."
	}
	return problems
}

// parseForm reads a bounded url-encoded form, answering 413 or 400 itself when it cannot.
func (p *pages) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p.problem(w, r, http.StatusRequestEntityTooLarge, problemPage{Title: "Form too large", Detail: "The form sent more data than any of these forms can hold.", Back: "/students", BackLabel: "Back to the students"})
			return false
		}
		p.problem(w, r, http.StatusBadRequest, problemPage{Title: "Unreadable form", Detail: "The form could not be read: " + err.Error(), Back: "/students", BackLabel: "Back to the students"})
		return false
	}
	return true
}

func fieldErrors(err error) (map[string]string, bool) {
	var fe errs.FieldErrors
	if errors.As(err, &fe) {
		problems := make(map[string]string, len(fe))
		for k, v := range fe {
			problems[k] = v
		}
		return problems, true
	}
	return nil, false
}

func studentID(r *http.Request) (int, bool) { return grading.ParseStudentID(mux.Vars(r)["id"]) }

func newKey() string { return requestid.New() }

// fail answers a page whose grading call failed: 404 for an unknown student, the 503 page when
// no grading instance could answer, and 502 for anything grading itself got wrong.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errs.ErrNotFound):
		p.notFound(w, r)
	case errors.Is(err, errs.ErrUnavailable) && isChangePost(r):
		p.failChange(w, r, err, changeBack(r.URL.Path))
	case errors.Is(err, errs.ErrUnavailable):
		log.With(level.Warn(p.logger), requestid.LogFields(r.Context())...).Log("msg", "page could not reach grading", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		page := problemPage{
			Title:     "The grading service is unavailable",
			Detail:    "The grading service is unavailable right now, so students and grades cannot be shown.",
			Hint:      "It usually comes back by itself within a few seconds. Try again shortly.",
			Back:      r.URL.RequestURI(),
			BackLabel: "Try again",
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/grades"):
			// The grade form carries its idempotency key, so sending the same form again is
			// safe whether or not grading recorded it before failing.
			page.Detail = "The grading service is unavailable right now, so the grade may not have been saved."
			page.Hint = "In a few seconds, use your browser's Back button and submit the same form again: it will not be recorded twice."
			page.Back = strings.TrimSuffix(r.URL.Path, "/grades")
			page.BackLabel = "Open the student's page"
		case r.Method == http.MethodPost:
			page.Detail = "The grading service is unavailable right now, so the student may not have been added."
			page.Hint = "In a few seconds, check the list of students before adding them again."
			page.Back = "/students"
			page.BackLabel = "Open the list of students"
		}
		p.problem(w, r, http.StatusServiceUnavailable, page)
	default:
		log.With(level.Error(p.logger), requestid.LogFields(r.Context())...).Log("msg", "grading failed a page's request", "path", r.URL.Path, "err", err)
		p.problem(w, r, http.StatusBadGateway, problemPage{
			Title:     "The grading service could not answer",
			Detail:    "The grading service failed while answering this page. Reference: " + requestid.FromContext(r.Context()),
			Back:      "/students",
			BackLabel: "Back to the students",
		})
	}
}

func (p *pages) notFound(w http.ResponseWriter, r *http.Request) {
	p.problem(w, r, http.StatusNotFound, problemPage{
		Title:     "Not found",
		Detail:    "There is no student or page at " + r.URL.Path + ".",
		Back:      "/students",
		BackLabel: "Back to the students",
	})
}

func (p *pages) problem(w http.ResponseWriter, r *http.Request, status int, v problemPage) {
	p.render(w, r, status, "problem", v)
}

// layoutView is what the layout shows around every page: who is signed in, or that the portal
// is open to anyone.
type layoutView struct {
	Page any
	User string
	Open bool
}

// render executes a page into a buffer first, so a template failure answers a clean 500
// instead of half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	buf := p.buffer()
	defer p.bufs.Put(buf)
	view := layoutView{Page: data, User: userFrom(r.Context()), Open: p.open}
	if err := p.tmpl[name].ExecuteTemplate(buf, "layout", view); err != nil {
		log.With(level.Error(p.logger), requestid.LogFields(r.Context())...).Log("msg", "page template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.send(w, r, status, buf.Bytes())
}

// renderStudentHTML answers the student's page as render would answer the "student" template
// with page, writing it with appendStudentPage, which cannot fail.
func (p *pages) renderStudentHTML(w http.ResponseWriter, r *http.Request, status int, page *studentPage) {
	buf := p.buffer()
	defer p.bufs.Put(buf)
	buf.Write(appendStudentPage(buf.AvailableBuffer(), userFrom(r.Context()), p.open, page))
	p.send(w, r, status, buf.Bytes())
}

// buffer is an empty buffer from the pool, to be put back when the page has been sent.
func (p *pages) buffer() *bytes.Buffer {
	buf, _ := p.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	return buf
}

// send answers a whole page: its length is known, and no cache keeps it.
func (p *pages) send(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// securityHeaders keep the pages to their own origin: no script runs, nothing loads from
// elsewhere, and no other site may frame them.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
