package portal

import (
	"net/http"

	"github.com/go-kit/kit/endpoint"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// gateway serves /api/v1, mirroring grading's routes over the load-balanced endpoints. It
// answers grading's own statuses for business errors (404, 400, 409), and 503 when no grading
// instance could serve.
type gateway struct {
	eps grading.Endpoints
}

func (g gateway) listStudents(w http.ResponseWriter, r *http.Request) {
	resp, ok := call[grading.ListStudentsResponse](w, r, g.eps.ListStudentsEndpoint, grading.ListStudentsRequest{})
	if ok {
		httpx.WriteJSON(w, http.StatusOK, resp.Students)
	}
}

func (g gateway) getStudent(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		httpx.WriteError(w, grading.ErrStudentNotFound)
		return
	}
	resp, ok := call[grading.GetStudentResponse](w, r, g.eps.GetStudentEndpoint, grading.GetStudentRequest{ID: id})
	if ok {
		httpx.WriteJSON(w, http.StatusOK, resp.Student)
	}
}

func (g gateway) addStudent(w http.ResponseWriter, r *http.Request) {
	var req grading.AddStudentRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	resp, ok := call[grading.AddStudentResponse](w, r, g.eps.AddStudentEndpoint, req)
	if ok {
		httpx.WriteJSON(w, http.StatusCreated, resp.Student)
	}
}

func (g gateway) addGrade(w http.ResponseWriter, r *http.Request) {
	id, ok := studentID(r)
	if !ok {
		httpx.WriteError(w, grading.ErrStudentNotFound)
		return
	}
	var grade grading.Grade
	if err := httpx.DecodeJSON(w, r, &grade); err != nil {
		httpx.WriteError(w, err)
		return
	}
	req := grading.AddGradeRequest{StudentID: id, Grade: grade, IdempotencyKey: r.Header.Get(grading.IdempotencyKeyHeader)}
	resp, ok := call[grading.AddGradeResponse](w, r, g.eps.AddGradeEndpoint, req)
	if ok {
		httpx.WriteJSON(w, http.StatusCreated, resp.Grade)
	}
}

// call runs one endpoint and answers the error itself, as JSON, when there is one: a transport
// failure (an UnavailableError, 503) or the business error inside the response.
func call[T endpoint.Failer](w http.ResponseWriter, r *http.Request, e endpoint.Endpoint, req any) (T, bool) {
	var zero T
	resp, err := e(r.Context(), req)
	if err != nil {
		httpx.WriteError(w, err)
		return zero, false
	}
	out, ok := resp.(T)
	if !ok {
		httpx.Error(w, http.StatusInternalServerError, "internal error")
		return zero, false
	}
	if err := out.Failed(); err != nil {
		httpx.WriteError(w, err)
		return zero, false
	}
	return out, true
}
