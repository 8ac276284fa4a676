package portal

import (
	"html/template"
	"strconv"
	"sync"
)

// A student's page repeats one row per grade, each with an edit form of some twenty-five
// values. Executed by html/template, every one of those values costs a walk of the template
// and a reflect.Value.Call of its escaper, which made the rows most of the page's CPU. The rows
// are therefore written here, in Go, with the escaping html/template applies in the two
// contexts the row uses (element text and double-quoted attribute values; IDs and versions are
// integers, which need none). The "grade-row" template in templates/student.html stays the
// reference: TestGradeRowsMatchTemplate and FuzzGradeRows check that these bytes are exactly
// the template's for any values. Nothing here is kept from one request to the next but the
// scratch buffers.

// rowBufs are scratch buffers for gradeRowsHTML.
var rowBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// gradeRowsHTML writes rows as the "grade-row" template does, one after another.
func gradeRowsHTML(rows []gradeRow) template.HTML {
	bp := rowBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for i := range rows {
		b = appendGradeRow(b, &rows[i])
	}
	out := template.HTML(b)
	*bp = b
	rowBufs.Put(bp)
	return out
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
	b = appendFieldStart(b, errTitle)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-title\">Title</label>\n        <input id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-title\" name=\"title\" value=\""...)
	b = appendEscaped(b, g.Edit.Title)
	b = append(b, "\" maxlength=\"100\" required autocomplete=\"off\">\n"...)
	b = appendFieldError(b, errTitle)

	b = appendFieldStart(b, errType)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-type\">Type</label>\n        <select id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-type\" name=\"type\">\n          "...)
	for _, o := range g.Types {
		b = append(b, "<option"...)
		if o.Selected {
			b = append(b, " selected"...)
		}
		b = append(b, '>')
		b = appendEscaped(b, o.Name)
		b = append(b, "</option>"...)
	}
	b = append(b, "\n        </select>\n"...)
	b = appendFieldError(b, errType)

	b = appendFieldStart(b, errScore)
	b = append(b, "        <label for=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-score\">Score (0–100)</label>\n        <input id=\"edit-"...)
	b = append(b, id...)
	b = append(b, "-score\" name=\"score\" type=\"number\" min=\"0\" max=\"100\" step=\"any\" inputmode=\"decimal\" value=\""...)
	b = appendEscaped(b, g.Edit.Score)
	b = append(b, "\" required>\n"...)
	b = appendFieldError(b, errScore)

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

// appendFieldStart opens a field's div, marked invalid when it has a problem to show.
func appendFieldStart(b []byte, problem string) []byte {
	b = append(b, "      <div class=\"field"...)
	if problem != "" {
		b = append(b, " invalid"...)
	}
	return append(b, "\">\n"...)
}

// appendFieldError writes the "field-error" template's line and closes the field's div.
func appendFieldError(b []byte, problem string) []byte {
	b = append(b, "        "...)
	if problem != "" {
		b = append(b, "<span class=\"error\" role=\"alert\">"...)
		b = appendEscaped(b, problem)
		b = append(b, "</span>"...)
	}
	return append(b, "\n      </div>\n"...)
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
