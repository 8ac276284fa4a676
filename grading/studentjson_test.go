package grading

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// storedStudents are students as the store and grading's answers hold them: ids, versions, who
// entered each grade and when, names and titles outside ASCII.
func storedStudents(t testing.TB) [][]byte {
	avg := 87.5
	students := []Student{
		{ID: 1, FirstName: "Ada", LastName: "Lovelace", Grades: []Grade{}},
		{ID: 2, FirstName: "José", LastName: "Núñez-Ü", Average: &avg, Grades: []Grade{
			{ID: 7, Version: 3, Title: "Quiz 1", Type: TypeQuiz, Score: 87.5, EnteredBy: "teacher", EnteredAt: time.Date(2026, 11, 30, 9, 1, 2, 345678900, time.UTC)},
			{ID: 8, Version: 1, Title: "Projet «final»", Type: TypeTest, Score: 0},
			{ID: 9223372036854775807, Version: 1, Title: "Big", Type: TypeHomework, Score: 1e-7, EnteredAt: time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
		}},
	}
	students = append(students, DemoStudents()...)
	var out [][]byte
	for _, s := range students {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestUnmarshalStudentReadsStoredStudentsInOnePass checks that what encoding/json writes for a
// student takes the one-pass path, and gives what encoding/json reads back.
func TestUnmarshalStudentReadsStoredStudentsInOnePass(t *testing.T) {
	for _, b := range storedStudents(t) {
		d := studentDecoder{buf: b}
		got, ok := d.student()
		if !ok {
			t.Fatalf("one-pass decoding refused %s", b)
		}
		var want Student
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoding %s:\n got %#v\nwant %#v", b, got, want)
		}
	}
}

// TestUnmarshalStudentAgreesWithEncodingJSON feeds both decoders what the one-pass path does not
// read (and some it does), and wants the same student or an error from both.
func TestUnmarshalStudentAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"id":1}`, ` { "id" : 1 , "grades" : [ ] } `,
		`{"id":1,"firstName":"A\u00e9","lastName":"B"}`, // escapes
		`{"id":1,"firstName":"A\"B"}`,
		`{"ID":1,"FirstName":"upper case keys"}`,             // case-insensitive keys
		`{"id":1,"id":2}`,                                    // a key twice
		`{"id":1,"nickname":"unknown key"}`,                  // ignored by encoding/json
		`{"id":1.0}`, `{"id":1e3}`, `{"id":-0}`, `{"id":01}`, // numbers an int does not take
		`{"id":99999999999999999999}`,
		`{"id":1,"average":null}`, `{"id":1,"average":1e400}`, `{"id":1,"average":-}`,
		`{"id":1,"grades":null}`, `{"id":1,"grades":[null]}`, `{"id":1,"grades":[{}]}`,
		`{"id":1,"grades":[{"score":"90"}]}`, `{"id":1,"grades":[{"score":.5}]}`,
		`{"id":1,"grades":[{"enteredAt":"yesterday"}]}`,
		`{"id":1,"grades":[{"enteredAt":"2026-11-30T09:00:00Z"}]}`,
		`{"id":1,"grades":[{"enteredAt":"2026-11-30T09:00:00+01:00"}]}`,
		`{"id":1,"grades":[{"id":1},]}`, `{"id":1,}`, `{"id":1} x`, `{"id":1}{}`,
		"{\"firstName\":\"bad \xff utf-8\"}", "{\"firstName\":\"tab\there\"}",
		`{"id":1,"grades":[{"title":"a","type":"Quiz","score":5,"id":3,"version":2}]}`,
	}
	for _, b := range storedStudents(t) {
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		var got, want Student
		gotErr := UnmarshalStudent([]byte(in), &got)
		wantErr := json.Unmarshal([]byte(in), &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decoding %q:\n got %#v, %v\nwant %#v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

// TestUnmarshalStudentMergesLikeEncodingJSON: into a student that is not the zero one, fields the
// data does not name are kept, as encoding/json keeps them.
func TestUnmarshalStudentMergesLikeEncodingJSON(t *testing.T) {
	got := Student{ID: 5, FirstName: "kept"}
	want := got
	in := []byte(`{"lastName":"new"}`)
	if err := UnmarshalStudent(in, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func FuzzUnmarshalStudent(f *testing.F) {
	for _, b := range storedStudents(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"grades":[{"enteredAt":"2026-11-30T09:00:00.5-07:00","score":-0}]}`))
	f.Add([]byte(`{"id":-1,"average":1E+2,"grades":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want Student
		wantErr := json.Unmarshal(b, &want)
		d := studentDecoder{buf: b}
		if got, ok := d.student(); ok {
			if wantErr != nil {
				t.Fatalf("one pass read %q, which encoding/json refuses: %v", b, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoding %q:\n got %#v\nwant %#v", b, got, want)
			}
		}
		var got Student
		if gotErr := UnmarshalStudent(b, &got); (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("decoding %q:\n got %#v, %v\nwant %#v, %v", b, got, gotErr, want, wantErr)
		}
	})
}

func BenchmarkUnmarshalStudent(b *testing.B) {
	data := storedStudents(b)[1]
	b.Run("decoder=onepass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s Student
			if err := UnmarshalStudent(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s Student
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestStudentAppendJSONIsWhatMarshalWrites, on stored students and on every kind of string,
// number and time that json.Marshal writes in a particular way.
func TestStudentAppendJSONIsWhatMarshalWrites(t *testing.T) {
	avg := 1e21
	tiny := -1e-7
	students := []Student{
		{},
		{ID: -3, FirstName: `<b>"Q&A"</b>`, LastName: "line\nbreak\ttab\b\f\x00\x1f\\", Grades: []Grade{}},
		{ID: 4, FirstName: "bad \xff utf-8", LastName: "sep\u2028\u2029", Average: &avg, Grades: []Grade{
			{Score: tiny, Title: "é😀", EnteredAt: time.Unix(0, 1).In(time.FixedZone("", -(5*3600 + 30*60)))},
			{ID: 1, Score: 123456789.125, EnteredBy: "x", EnteredAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
			{Version: 2, Score: 1e20},
		}},
		{ID: 5, Average: &tiny},
	}
	for _, b := range storedStudents(t) {
		var s Student
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		students = append(students, s)
	}
	for _, s := range students {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AppendJSON([]byte("prefix"))
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("AppendJSON of %#v:\n got %s, %v\nwant prefix%s", s, got, err, want)
		}
	}
}

// TestStudentAppendJSONFailsAsMarshalDoes: what json.Marshal refuses, AppendJSON refuses, and
// leaves b as it was.
func TestStudentAppendJSONFailsAsMarshalDoes(t *testing.T) {
	nan := math.NaN()
	for _, s := range []Student{
		{Average: &nan},
		{Grades: []Grade{{Score: math.Inf(1)}}},
		{Grades: []Grade{{Score: 1}, {EnteredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	} {
		if _, err := json.Marshal(s); err == nil {
			t.Fatalf("json.Marshal took %#v", s)
		}
		if got, err := s.AppendJSON([]byte("b")); err == nil || string(got) != "b" {
			t.Errorf("AppendJSON of %#v: %q, %v; want b and an error", s, got, err)
		}
	}
}

func FuzzStudentAppendJSON(f *testing.F) {
	f.Add(1, "Ada", "<Lovelace>", 2, 3, "Quiz & test", "Quiz", 87.5, "teacher", int64(1764493262345678900), 3600, true)
	f.Add(0, "\xff\u2028", "\x00\"\\", 0, 0, "", "", 1e-7, "", int64(0), 0, false)
	f.Add(-1, "é", "😀", 1, 1, "t", "Test", 1e21, "u", int64(-62135596800000000000/1000), -19800, true)
	f.Fuzz(func(t *testing.T, id int, first, last string, gid, version int, title, typ string, score float64, by string, at int64, offset int, average bool) {
		g := Grade{ID: gid, Version: version, Title: title, Type: typ, Score: score, EnteredBy: by}
		if at != 0 {
			g.EnteredAt = time.Unix(0, at).In(time.FixedZone("", offset%(24*3600)))
		}
		s := Student{ID: id, FirstName: first, LastName: last, Grades: []Grade{g, {Title: last}}}
		if average {
			s.Average = &score
		}
		want, wantErr := json.Marshal(s)
		got, gotErr := s.AppendJSON(nil)
		if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && string(got) != string(want)) {
			t.Fatalf("AppendJSON of %#v:\n got %s, %v\nwant %s, %v", s, got, gotErr, want, wantErr)
		}
	})
}

func BenchmarkStudentMarshal(b *testing.B) {
	var s Student
	if err := json.Unmarshal(storedStudents(b)[1], &s); err != nil {
		b.Fatal(err)
	}
	b.Run("encoder=append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			if _, err := s.AppendJSON(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoder=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
