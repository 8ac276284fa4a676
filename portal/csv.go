package portal

import (
	"bytes"
	"encoding/csv"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// The class as CSV, for spreadsheets: /students.csv on the pages, and GET /api/v1/students with
// Accept: text/csv.
//
// One row per student and grade (a student without grades has one row with the grade's cells
// empty), under a header row, in UTF-8 without a byte order mark, quoted as RFC 4180 says
// (encoding/csv). Every row carries its student's average, so a sheet can sort or filter by it.
//
// Spreadsheets run a cell that begins with =, +, -, @, a tab or a carriage return as a formula,
// so every cell of text a person typed (names, titles, types, who entered a grade) that begins
// with one of them is written with a ' in front, which makes a spreadsheet show it as the text
// it is. Cells the portal writes from numbers (IDs, versions, scores, averages) and times are not
// prefixed: they are numbers, never formulas, and a prefix would turn them into text. (Scores and
// averages are never negative anyway.)

// CSVContentType is the media type of the export.
const CSVContentType = "text/csv; charset=utf-8; header=present"

// csvHeader names the export's columns.
var csvHeader = []string{
	"student_id", "first_name", "last_name", "student_average",
	"grade_id", "grade_version", "title", "type", "score", "entered_by", "entered_at",
}

// csvText makes a cell of user text safe to open in a spreadsheet: one that a spreadsheet would
// read as a formula gets a ' in front.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSV writes students as the export.
func writeCSV(w io.Writer, students []grading.Student) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, st := range students {
		avg := ""
		if st.Average != nil {
			avg = strconv.FormatFloat(*st.Average, 'f', 2, 64)
		}
		student := []string{strconv.Itoa(st.ID), csvText(st.FirstName), csvText(st.LastName), avg}
		if len(st.Grades) == 0 {
			if err := cw.Write(append(student, "", "", "", "", "", "", "")); err != nil {
				return err
			}
			continue
		}
		for _, g := range st.Grades {
			at := ""
			if !g.EnteredAt.IsZero() {
				at = g.EnteredAt.UTC().Format(time.RFC3339)
			}
			row := append(append([]string(nil), student...),
				strconv.Itoa(g.ID), strconv.Itoa(g.Version), csvText(g.Title), csvText(g.Type),
				formatScore(g.Score), csvText(g.EnteredBy), at)
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// classCSV is the export of every student, or grading's error.
func (p *pages) classCSV(r *http.Request) ([]byte, error) {
	students, err := p.svc.ListStudents(r.Context())
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCSV(&buf, students); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCSVAnswer(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Content-Type", CSVContentType)
	h.Set("Content-Disposition", `attachment; filename="students.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// exportCSV serves /students.csv.
func (p *pages) exportCSV(w http.ResponseWriter, r *http.Request) {
	body, err := p.classCSV(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeCSVAnswer(w, r, body)
}

// apiCSV serves GET /api/v1/students to a client that asks for CSV, with the API's JSON errors.
func (p *pages) apiCSV(w http.ResponseWriter, r *http.Request) {
	body, err := p.classCSV(r)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	writeCSVAnswer(w, r, body)
}

// prefersCSV reports whether an Accept header asks for text/csv over JSON: it names text/csv with
// a higher quality than application/json (which it may leave out). Anything else, */* included,
// keeps the JSON answer every existing client expects.
func prefersCSV(r *http.Request, _ *mux.RouteMatch) bool {
	csvQ, jsonQ := -1.0, -1.0
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					continue
				}
			}
			switch mt {
			case "text/csv":
				csvQ = max(csvQ, q)
			case "application/json":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return csvQ > 0 && csvQ > jsonQ
}
