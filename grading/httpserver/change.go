package httpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// changeRoutes are the routes that read one grade, correct or remove it, read the history, and
// rename or remove a student:
//
//	GET    /students/{id}/grades/{gradeID}  200 Grade with ETag: "<version>"; 404
//	PATCH  /students/{id}/grades/{gradeID}  200 Grade with ETag; body GradeChange; If-Match, Idempotency-Key
//	DELETE /students/{id}/grades/{gradeID}  204; optional body {"changedBy": ...}; If-Match, Idempotency-Key
//	GET    /students/{id}/history           200 [GradeEvent...], oldest first
//	PATCH  /students/{id}                   200 Student; body {"firstName", "lastName"}
//	DELETE /students/{id}[?force=true]      204; 409 if the student has grades and force is not true
//
// An If-Match that names another version than the grade's is 412; one that is not a quoted
// version (or *) is 400.
func changeRoutes(eps grading.Endpoints, opts []kithttp.ServerOption) []Route {
	return []Route{
		{http.MethodGet, "/students/{id}/grades/{gradeID}", kithttp.NewServer(eps.GetGradeEndpoint, decodeGetGradeRequest, encodeChangeResponse, opts...)},
		{http.MethodPatch, "/students/{id}/grades/{gradeID}", kithttp.NewServer(eps.UpdateGradeEndpoint, decodeUpdateGradeRequest, encodeChangeResponse, opts...)},
		{http.MethodDelete, "/students/{id}/grades/{gradeID}", kithttp.NewServer(eps.RemoveGradeEndpoint, decodeRemoveGradeRequest, encodeChangeResponse, opts...)},
		{http.MethodGet, "/students/{id}/history", kithttp.NewServer(eps.GradeHistoryEndpoint, decodeGradeHistoryRequest, encodeChangeResponse, opts...)},
		{http.MethodPatch, "/students/{id}", kithttp.NewServer(eps.RenameStudentEndpoint, decodeRenameStudentRequest, encodeChangeResponse, opts...)},
		{http.MethodDelete, "/students/{id}", kithttp.NewServer(eps.RemoveStudentEndpoint, decodeRemoveStudentRequest, encodeChangeResponse, opts...)},
	}
}

// gradeIDs reads {id} and {gradeID}: either one that is not an ID is a 404 of its own kind.
func gradeIDs(r *http.Request) (sid, gid int, err error) {
	if sid, err = studentID(r); err != nil {
		return 0, 0, err
	}
	gid, ok := grading.ParseGradeID(mux.Vars(r)["gradeID"])
	if !ok {
		return 0, 0, grading.ErrGradeNotFound
	}
	return sid, gid, nil
}

func decodeGetGradeRequest(_ context.Context, r *http.Request) (any, error) {
	sid, gid, err := gradeIDs(r)
	if err != nil {
		return nil, err
	}
	return grading.GetGradeRequest{StudentID: sid, GradeID: gid}, nil
}

// DecodeGradeChange reads a PATCH body of a grade: a JSON object with any of title, type, score
// and changedBy. It is exported for the fuzz target and for gateways that decode it themselves.
func DecodeGradeChange(r *http.Request) (grading.GradeChange, error) {
	var c grading.GradeChange
	if err := httpx.DecodeJSON(nil, r, &c); err != nil {
		return grading.GradeChange{}, err
	}
	return c, nil
}

func decodeUpdateGradeRequest(_ context.Context, r *http.Request) (any, error) {
	sid, gid, err := gradeIDs(r)
	if err != nil {
		return nil, err
	}
	ifVersion, err := grading.ParseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	change, err := DecodeGradeChange(r)
	if err != nil {
		return nil, err
	}
	return grading.UpdateGradeRequest{StudentID: sid, GradeID: gid, Change: change, IfVersion: ifVersion,
		IdempotencyKey: r.Header.Get(idempotency.Header)}, nil
}

// removal is the optional body of a DELETE of a grade.
type removal struct {
	ChangedBy string `json:"changedBy"`
}

func decodeRemoveGradeRequest(_ context.Context, r *http.Request) (any, error) {
	sid, gid, err := gradeIDs(r)
	if err != nil {
		return nil, err
	}
	ifVersion, err := grading.ParseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	var body removal
	if err := decodeOptionalJSON(r, &body); err != nil {
		return nil, err
	}
	return grading.RemoveGradeRequest{StudentID: sid, GradeID: gid, By: body.ChangedBy, IfVersion: ifVersion,
		IdempotencyKey: r.Header.Get(idempotency.Header)}, nil
}

// decodeOptionalJSON decodes r's body into v when there is one.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	if r.ContentLength < 0 {
		// Chunked: whether it is empty shows only on reading.
		var first [1]byte
		n, err := io.ReadFull(r.Body, first[:])
		if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	}
	return httpx.DecodeJSON(nil, r, v)
}

func decodeGradeHistoryRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	return grading.GradeHistoryRequest{StudentID: id}, nil
}

func decodeRenameStudentRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	req := grading.RenameStudentRequest{ID: id}
	if err := httpx.DecodeJSON(nil, r, &req); err != nil {
		return nil, err
	}
	req.ID = id
	return req, nil
}

func decodeRemoveStudentRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	req := grading.RemoveStudentRequest{ID: id}
	switch f := r.URL.Query().Get("force"); f {
	case "", "false":
	case "true":
		req.Force = true
	default:
		return nil, errs.FieldErrors{"force": fmt.Sprintf("must be true or false, not %q", f)}
	}
	return req, nil
}

// encodeChangeResponse answers the change routes: a grade with its ETag, a removal with 204,
// ErrVersionMismatch with 412, and any other business error as the rest of the API does.
func encodeChangeResponse(_ context.Context, w http.ResponseWriter, response any) error {
	f, ok := response.(interface{ Failed() error })
	if !ok {
		return fmt.Errorf("grading: no HTTP encoding for %T", response)
	}
	if err := f.Failed(); err != nil {
		writeChangeError(w, err)
		return nil
	}
	switch r := response.(type) {
	case grading.GetGradeResponse:
		w.Header().Set("ETag", grading.ETag(r.Grade.Version))
		httpx.WriteJSON(w, http.StatusOK, r.Grade)
	case grading.UpdateGradeResponse:
		w.Header().Set("ETag", grading.ETag(r.Grade.Version))
		httpx.WriteJSON(w, http.StatusOK, r.Grade)
	case grading.GradeHistoryResponse:
		if r.Events == nil {
			r.Events = []grading.GradeEvent{}
		}
		httpx.WriteJSON(w, http.StatusOK, r.Events)
	case grading.RenameStudentResponse:
		httpx.WriteJSON(w, http.StatusOK, r.Student)
	case grading.RemoveGradeResponse, grading.RemoveStudentResponse:
		w.WriteHeader(http.StatusNoContent)
	default:
		return fmt.Errorf("grading: no HTTP encoding for %T", response)
	}
	return nil
}

// writeChangeError answers err: 412 for a stale If-Match, the shared table for the rest.
func writeChangeError(w http.ResponseWriter, err error) {
	if errors.Is(err, grading.ErrVersionMismatch) {
		httpx.Error(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	httpx.WriteError(w, err)
}
