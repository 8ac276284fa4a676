package portal

import "strconv"

// A student's page is the portal's busiest, and with its rows already written in Go (rows.go)
// what html/template still spent on it was mostly its walk of the layout and of the add form:
// reflection to find each field, a call of each escaper. The whole page is therefore written
// here, in Go, with the escaping html/template applies in the contexts the page uses: element
// text, the <title> (RCDATA, whose escaper uses the same table for strings), and double-quoted
// attribute values all escape as appendEscaped does; the IDs in URLs and the grade count are
// integers, which need none. The templates layout.html and student.html stay the reference:
// TestStudentPageMatchesTemplate and FuzzStudentPage check that these bytes are exactly the
// templates' for any view.

// appendStudentPage appends the student's page as the "layout" template of the "student"
// templates writes layoutView{Page: *pg, User: user, Open: open}.
func appendStudentPage(b []byte, user string, open bool, pg *studentPage) []byte {
	st := &pg.Student
	var idBuf [20]byte
	id := strconv.AppendInt(idBuf[:0], int64(st.ID), 10)

	b = append(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"...)
	b = appendEscaped(b, st.Name)
	b = append(b, " · Gradebook</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n"+
		"<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n</head>\n<body>\n"...)
	if open {
		b = append(b, "<div class=\"banner open\" role=\"note\" id=\"open-banner\">Open demo portal: no one "+
			"signs in here, so anyone who can reach it can see and change grades. Start the portal with "+
			"<code>-users</code> to require sign-in.</div>"...)
	}
	b = append(b, "\n<header class=\"topbar\">\n  <a class=\"brand\" href=\"/students\">Gradebook</a>\n  <nav>\n"+
		"    <a href=\"/students\""...)
	if pg.Nav == "students" {
		b = append(b, " aria-current=\"page\""...)
	}
	b = append(b, ">Students</a>\n    <a href=\"/status\""...)
	if pg.Nav == "status" {
		b = append(b, " aria-current=\"page\""...)
	}
	b = append(b, ">Status</a>\n  </nav>\n  "...)
	if user != "" {
		b = append(b, "<form class=\"signout\" method=\"post\" action=\"/logout\"><span id=\"signed-in-as\">Signed in as "...)
		b = appendEscaped(b, user)
		b = append(b, "</span> <button type=\"submit\" id=\"sign-out\">Sign out</button></form>"...)
	}
	b = append(b, "\n</header>\n<main>\n"...)

	// The "content" template of student.html.
	b = append(b, "\n<p class=\"crumbs\"><a href=\"/students\">Students</a> › "...)
	b = appendEscaped(b, st.Name)
	b = append(b, "</p>\n<h1>"...)
	b = appendEscaped(b, st.Name)
	b = append(b, "</h1>\n<p class=\"crumbs\"><a href=\"/students/"...)
	b = append(b, id...)
	b = append(b, "/edit\" id=\"edit-student\">Rename or remove this student</a></p>\n"...)
	if pg.Notice != "" {
		b = append(b, "<div class=\"notice ok\" role=\"status\">"...)
		b = appendEscaped(b, pg.Notice)
		b = append(b, "</div>"...)
	}
	b = append(b, '\n')
	if msg := pg.Errors["edit"]; msg != "" {
		b = append(b, "<div class=\"notice bad\" role=\"alert\">"...)
		b = appendEscaped(b, msg)
		b = append(b, "</div>"...)
	}
	b = append(b, "\n<section class=\"card\">\n  <div class=\"average\" id=\"average\">"...)
	b = appendEscaped(b, st.Average)
	b = append(b, " <small>average of "...)
	b = strconv.AppendInt(b, int64(st.GradeCount), 10)
	b = append(b, " grade"...)
	if st.GradeCount != 1 {
		b = append(b, 's')
	}
	b = append(b, "</small></div>\n</section>\n\n<section class=\"card\">\n<h2>Grades</h2>\n"...)
	if len(st.Grades) > 0 {
		b = append(b, "\n<table id=\"grades\">\n  <thead><tr><th>Title</th><th>Type</th><th class=\"num\">Score</th>"+
			"<th>Entered</th><th>Change</th></tr></thead>\n  <tbody>\n  "...)
		b = appendGradeRows(b, st.Grades)
		b = append(b, "\n  </tbody>\n</table>\n"...)
	} else {
		b = append(b, "\n<p class=\"empty\">No grades yet.</p>\n"...)
	}
	b = append(b, "\n<p class=\"crumbs\"><a href=\"/students/"...)
	b = append(b, id...)
	b = append(b, "/history\" id=\"history-link\">History of changes</a>: every correction and removal of these "+
		"grades, with who made it and when.</p>\n</section>\n\n<section class=\"card\">\n<h2>Add a grade</h2>\n"+
		"<form class=\"inline\" id=\"add-grade\" method=\"post\" action=\"/students/"...)
	b = append(b, id...)
	b = append(b, "/grades\" novalidate>\n  <input type=\"hidden\" name=\"idempotencyKey\" value=\""...)
	b = appendEscaped(b, pg.Form.Key)
	b = append(b, "\">\n"...)

	errTitle, errType, errScore := pg.Errors["title"], pg.Errors["type"], pg.Errors["score"]
	b = appendFieldStart(b, addFieldIndent, errTitle)
	b = append(b, "    <label for=\"title\">Title</label>\n    <input id=\"title\" name=\"title\" value=\""...)
	b = appendEscaped(b, pg.Form.Title)
	b = append(b, "\" maxlength=\"100\" required placeholder=\"Quiz 3\" autocomplete=\"off\">\n"...)
	b = appendFieldError(b, addFieldIndent, errTitle)

	b = appendFieldStart(b, addFieldIndent, errType)
	b = append(b, "    <label for=\"type\">Type</label>\n    <select id=\"type\" name=\"type\">\n      "...)
	b = appendTypeOptions(b, pg.Types)
	b = append(b, "\n    </select>\n"...)
	b = appendFieldError(b, addFieldIndent, errType)

	b = appendFieldStart(b, addFieldIndent, errScore)
	b = append(b, "    <label for=\"score\">Score (0–100)</label>\n    <input id=\"score\" name=\"score\" type=\"number\" "+
		"min=\"0\" max=\"100\" step=\"any\" inputmode=\"decimal\" value=\""...)
	b = appendEscaped(b, pg.Form.Score)
	b = append(b, "\" required>\n"...)
	b = appendFieldError(b, addFieldIndent, errScore)

	b = append(b, "  <div class=\"actions\"><button type=\"submit\">Add grade</button></div>\n</form>\n"...)
	if msg := pg.Errors["form"]; msg != "" {
		b = append(b, "<div class=\"notice bad\" role=\"alert\">"...)
		b = appendEscaped(b, msg)
		b = append(b, "</div>"...)
	}
	b = append(b, "\n</section>\n"...)

	// The rest of the layout.
	return append(b, "\n</main>\n<footer>Gradebook teacher portal</footer>\n</body>\n</html>\n"...)
}

// addFieldIndent is the indentation of the fields' divs in the add form.
const addFieldIndent = "  "
