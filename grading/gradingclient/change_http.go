package gradingclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
)

// knownError answers grading's own error for an error answer's status and message, so that a
// caller through a transport can tell, say, ErrGradeNotFound from ErrStudentNotFound. status is
// 0 over gRPC, where the message alone tells.
func knownError(status int, msg string) error {
	if status == http.StatusPreconditionFailed {
		return grading.ErrVersionMismatch
	}
	for _, known := range []error{grading.ErrGradeNotFound, grading.ErrVersionMismatch, grading.ErrStudentHasGrades} {
		if msg == known.Error() {
			return known
		}
	}
	return nil
}

// addChangeEndpoints fills in the endpoints of grade corrections, removals, history and student
// changes.
func (c *httpClient) addChangeEndpoints(eps *grading.Endpoints) {
	eps.GetGradeEndpoint = c.getGrade
	eps.UpdateGradeEndpoint = c.updateGrade
	eps.RemoveGradeEndpoint = c.removeGrade
	eps.GradeHistoryEndpoint = c.gradeHistory
	eps.RenameStudentEndpoint = c.renameStudent
	eps.RemoveStudentEndpoint = c.removeStudent
}

func gradePath(studentID, gradeID int) string {
	return "/students/" + strconv.Itoa(studentID) + "/grades/" + strconv.Itoa(gradeID)
}

// ifMatch is the If-Match header for an optional version.
func ifMatch(v *int) string {
	if v == nil {
		return ""
	}
	return grading.ETag(*v)
}

func (c *httpClient) getGrade(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.GetGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetGrade endpoint got %T", request)
	}
	var resp grading.GetGradeResponse
	resp.Err = c.do(ctx, http.MethodGet, gradePath(req.StudentID, req.GradeID), nil, "", "", http.StatusOK, &resp.Grade)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) updateGrade(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.UpdateGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: UpdateGrade endpoint got %T", request)
	}
	body, err := json.Marshal(req.Change)
	if err != nil {
		// Only NaN or Inf scores fail to marshal: answer as the service would.
		return grading.UpdateGradeResponse{Err: errs.Fields(req.Valid(ctx))}, nil
	}
	var resp grading.UpdateGradeResponse
	resp.Err = c.do(ctx, http.MethodPatch, gradePath(req.StudentID, req.GradeID), body, ifMatch(req.IfVersion), req.IdempotencyKey,
		http.StatusOK, &resp.Grade)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) removeGrade(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.RemoveGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: RemoveGrade endpoint got %T", request)
	}
	var body []byte
	if req.By != "" {
		body, _ = json.Marshal(map[string]string{"changedBy": req.By})
	}
	var resp grading.RemoveGradeResponse
	resp.Err = c.do(ctx, http.MethodDelete, gradePath(req.StudentID, req.GradeID), body, ifMatch(req.IfVersion), req.IdempotencyKey,
		http.StatusNoContent, nil)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) gradeHistory(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.GradeHistoryRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GradeHistory endpoint got %T", request)
	}
	var resp grading.GradeHistoryResponse
	resp.Err = c.do(ctx, http.MethodGet, "/students/"+strconv.Itoa(req.StudentID)+"/history", nil, "", "", http.StatusOK, &resp.Events)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) renameStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.RenameStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: RenameStudent endpoint got %T", request)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var resp grading.RenameStudentResponse
	resp.Err = c.do(ctx, http.MethodPatch, "/students/"+strconv.Itoa(req.ID), body, "", "", http.StatusOK, &resp.Student)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) removeStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.RemoveStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: RemoveStudent endpoint got %T", request)
	}
	path := "/students/" + strconv.Itoa(req.ID)
	if req.Force {
		path += "?" + url.Values{"force": {"true"}}.Encode()
	}
	var resp grading.RemoveStudentResponse
	resp.Err = c.do(ctx, http.MethodDelete, path, nil, "", "", http.StatusNoContent, nil)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}
