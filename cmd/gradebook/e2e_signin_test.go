package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gradebook/gradebook/grading"
)

// TestEndToEndWithSignIn runs the whole system with -users and the portal calling grading over
// gRPC: a form without a session records nothing, a signed-in teacher's grade says who entered
// it when read straight from grading, the API's token enters grades as "api", and up made the
// session key under -data.
func TestEndToEndWithSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	bin := buildGradebook(t)
	dir, data := t.TempDir(), t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("magic school bus"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(users, []byte("frizzle:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSystem(t, bin, "-data", data, "-token", "s3cret", "-users", users, "-grading-transport", "grpc")
	if fi, err := os.Stat(filepath.Join(data, "portal", "session.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("up made no session key under -data (or not 0600): %v", err)
	}
	lastGrade := func() grading.Grade {
		t.Helper()
		a := do(t, http.MethodGet, s.grading()+"/students/1", "", "")
		var st grading.Student
		if err := json.Unmarshal([]byte(a.body), &st); err != nil || len(st.Grades) == 0 {
			t.Fatalf("student 1 from grading: %d %s", a.status, a.body)
		}
		return st.Grades[len(st.Grades)-1]
	}
	form := url.Values{"title": {"Quiz 9"}, "type": {"Quiz"}, "score": {"77"}}.Encode()
	if a := do(t, http.MethodPost, s.portal()+"/students/1/grades", "application/x-www-form-urlencoded", form); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/login") {
		t.Errorf("form post without a session = %d to %q, want 303 to /login", a.status, a.header.Get("Location"))
	}
	if g := lastGrade(); g.Title == "Quiz 9" {
		t.Fatal("a form without a session recorded a grade")
	}

	login := url.Values{"username": {"frizzle"}, "password": {"magic school bus"}}.Encode()
	a := do(t, http.MethodPost, s.portal()+"/login", "application/x-www-form-urlencoded", login)
	var cookie string
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == "gradebook_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if a.status != http.StatusSeeOther || cookie == "" {
		t.Fatalf("sign in = %d, cookie %q", a.status, cookie)
	}
	if a := do(t, http.MethodPost, s.portal()+"/students/1/grades", "application/x-www-form-urlencoded", form, "Cookie", cookie); a.status != http.StatusSeeOther {
		t.Fatalf("form post with a session = %d: %s", a.status, a.body)
	}
	if g := lastGrade(); g.Title != "Quiz 9" || g.EnteredBy != "frizzle" || g.EnteredAt.IsZero() {
		t.Errorf("grading holds %+v; want Quiz 9 entered by frizzle, with a time", g)
	}
	if a := do(t, http.MethodGet, s.portal()+"/students/1", "", "", "Cookie", cookie); !strings.Contains(a.body, "entered by frizzle") {
		t.Errorf("the student page (%d) does not say who entered the grade", a.status)
	}

	body := `{"title":"Quiz 10","type":"Quiz","score":60,"enteredBy":"mallory"}`
	if a := do(t, http.MethodPost, s.portal()+"/api/v1/students/1/grades", "application/json", body); a.status != http.StatusUnauthorized {
		t.Errorf("API write with neither token nor session = %d, want 401", a.status)
	}
	if a := do(t, http.MethodPost, s.portal()+"/api/v1/students/1/grades", "application/json", body, "Authorization", "Bearer s3cret"); a.status != http.StatusCreated {
		t.Fatalf("API write with the token = %d %s", a.status, a.body)
	}
	if g := lastGrade(); g.Title != "Quiz 10" || g.EnteredBy != "api" {
		t.Errorf("grading holds %+v; want Quiz 10 entered by api, whatever the body claimed", g)
	}
}
