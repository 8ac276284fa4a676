package portal

import "strconv"

// A student's page repeats one row per grade, each with an edit form of some twenty-five
// values. Executed by html/template, every one of those values costs a walk of the template
// and a reflect.Value.Call of its escaper, which made the rows most of the page's CPU. The rows
// are therefore written here, in Go, with the escaping html/template applies in the two
// contexts the row uses (element text and double-quoted attribute values; IDs and versions are
// integers, which need none), and the rest of the page around them in studentpage.go. The
// "grade-row" template in templates/student.html stays the reference:
// TestGradeRowsMatchTemplate and FuzzGradeRows check that these bytes are exactly the
// template's for any values.

// appendGradeRows appends rows as the "grade-row" template writes them, one after another.
func appendGradeRows(b []byte, rows []gradeRow) []byte {
	for i := range rows {
		b = appendGradeRow(b, &rows[i])
	}
	return b
}

// appendGradeRow appends one row as the "grade-row" template writes it.
func appendGradeRow(b []byte, g *gradeRow) []byte {
	var idBuf [20]byte
	id := strconv.AppendInt(idBuf[:0], int64(g.ID), 10)
	b = append(b, "\n  <tr id=\"grade-"...)
	b = append(b, id...)
	b = append(b, "\"><td>"...)
	b = appendEscaped(b, g.Title)
	b = append(b, "</td><td><span class=\"badge "...)
	b = appendEscaped(b, g.Type)
	b = append(b, "\">"...)
	b = appendEscaped(b, g.Type)
	b = append(b, "</span></td><td class=\"num\">"...)
	b = appendEscaped(b, g.Score)
	b = append(b, "</td><td class=\"entered\">"...)
	if g.EnteredBy != "" {
		b = append(b, "entered by "...)
		b = appendEscaped(b, g.EnteredBy)
	}
	if g.EnteredAt != "" {
		b = append(b, " <small>"...)
		b = appendEscaped(b, g.EnteredAt)
		b = append(b, "</small>"...)
	}
	b = append(b, "</td>\n  <td class=\"row-actions\">\n    <details class=\"edit\""...)
	if g.Edit.Open {
		b = append(b, " open"...)
	}
	b = append(b, "><summary>Edit</summary>\n    <form class=\"edit-grade\" id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "\" method=\"post\" action=\"/students/"...)
	b = strconv.AppendInt(b, int64(g.StudentID), 10)
	b = append(b, "/grades/"...)
	b = append(b, id...)
	b = append(b, "\" novalidate>\n      <input type=\"hidden\" name=\"version\" value=\""...)
	b = strconv.AppendInt(b, int64(g.Edit.Version), 10)
	b = append(b, "\">\n      <input type=\"hidden\" name=\"idempotencyKey\" value=\""...)
	b = appendEscaped(b, g.Edit.Key)
	b = append(b, "\">\n"...)

	errTitle, errType, errScore := g.Edit.Errors["title"], g.Edit.Errors["type"], g.Edit.Errors["score"]
	b = appendFieldStart(b, rowFieldIndent, errTitle)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-title\">Title</label>\n        <input id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-title\" name=\"title\" value=\""...)
	b = appendEscaped(b, g.Edit.Title)
	b = append(b, "\" maxlength=\"100\" required autocomplete=\"off\">\n"...)
	b = appendFieldError(b, rowFieldIndent, errTitle)

	b = appendFieldStart(b, rowFieldIndent, errType)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-type\">Type</label>\n        <select id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-type\" name=\"type\">\n          "...)
	b = appendTypeOptions(b, g.Types)
	b = append(b, "\n        </select>\n"...)
	b = appendFieldError(b, rowFieldIndent, errType)

	b = appendFieldStart(b, rowFieldIndent, errScore)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-score\">Score (0–100)</label>\n        <input id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-score\" name=\"score\" type=\"number\" min=\"0\" max=\"100\" step=\"any\" inputmode=\"decimal\" value=\""...)
	b = appendEscaped(b, g.Edit.Score)
	b = append(b, "\" required>\n"...)
	b = appendFieldError(b, rowFieldIndent, errScore)

	b = append(b, "      <div class=\"actions\"><button type=\"submit\">Save</button></div>\n      "...)
	if msg := g.Edit.Errors["form"]; msg != "" {
		b = append(b, "<div class=\"notice bad edit-error\" role=\"alert\">"...)
		b = appendEscaped(b, msg)
		b = append(b, "</div>"...)
	}
	b = append(b, "\n    </form>\n    </details>\n    <form class=\"remove-grade\" method=\"get\" action=\"/students/"...)
	b = strconv.AppendInt(b, int64(g.StudentID), 10)
	b = append(b, "/grades/"...)
	b = append(b, id...)
	b = append(b, "/remove\"><button type=\"submit\" class=\"secondary\">Remove…</button></form>\n  </td></tr>\n  "...)
	return b
}

// rowFieldIndent is the indentation of the fields' divs in a row's edit form.
const rowFieldIndent = "      "

// appendTypeOptions writes the options of a select of grade types, as the templates' range
// over them does.
func appendTypeOptions(b []byte, opts []typeOption) []byte {
	for _, o := range opts {
		b = append(b, "<option"...)
		if o.Selected {
			b = append(b, " selected"...)
		}
		b = append(b, '>')
		b = appendEscaped(b, o.Name)
		b = append(b, "</option>"...)
	}
	return b
}

// appendFieldStart opens a form field's div, indented by indent, marked invalid when it has a
// problem to show.
func appendFieldStart(b []byte, indent, problem string) []byte {
	b = append(b, indent...)
	b = append(b, "<div class=\"field"...)
	if problem != "" {
		b = append(b, " invalid"...)
	}
	return append(b, "\">\n"...)
}

// appendFieldError writes the line of the "field-error" template inside a field's div indented
// by indent, and closes the div.
func appendFieldError(b []byte, indent, problem string) []byte {
	b = append(b, indent...)
	b = append(b, "  "...)
	b = appendProblem(b, problem)
	b = append(b, '\n')
	b = append(b, indent...)
	return append(b, "</div>\n"...)
}

// appendProblem writes what the "field-error" template does: the problem, if any, in its span.
func appendProblem(b []byte, problem string) []byte {
	if problem != "" {
		b = append(b, "<span class=\"error\" role=\"alert\">"...)
		b = appendEscaped(b, problem)
		b = append(b, "</span>"...)
	}
	return b
}

// appendEscaped appends s escaped as html/template escapes a string (not template.HTML) in
// element text and in a quoted attribute value (its htmlEscaper and attrEscaper, which share
// one table): NUL becomes U+FFFD, and " & ' + < > become entities. Every other byte, invalid
// UTF-8 included, is copied as it is, as html/template copies it. The bytes replaced are all
// ASCII, which never occur inside a multi-byte UTF-8 sequence, so going byte by byte replaces
// exactly what html/template's rune by rune walk replaces.
func appendEscaped(b []byte, s string) []byte {
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b = append(b, s[written:i]...)
		b = append(b, repl...)
		written = i + 1
	}
	return append(b, s[written:]...)
}
