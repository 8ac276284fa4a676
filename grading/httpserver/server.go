package httpserver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-kit/kit/transport"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// NewHandler serves the grading routes (listed at AddRoutes) on their own router, with
// request IDs. A service inside the shared runtime uses AddRoutes on rt.Router instead, and
// the portal's gateway mounts them under /api/v1 over its load-balanced endpoints.
func NewHandler(eps grading.Endpoints, logger log.Logger) http.Handler {
	r := httpx.NewRouter()
	AddRoutes(r, eps, logger)
	return httpx.WithRequestIDs(r)
}

// AddRoutes adds the grading routes (listed at Routes) to r.
func AddRoutes(r *mux.Router, eps grading.Endpoints, logger log.Logger) {
	for _, rt := range Routes(eps, logger) {
		r.Handle(rt.Path, rt.Handler).Methods(rt.Method)
	}
	addOpenAPI(r)
}

// Route is one route of grading's HTTP API.
type Route struct {
	Method, Path string // Path is a gorilla/mux template
	Handler      http.Handler
}

// Routes are grading's HTTP API over eps, for a router to mount (under a prefix, for a gateway):
//
//	GET  /students               200 [Student...]
//	GET  /students/{id}          200 Student, or 404
//	POST /students               201 Student
//	POST /students/{id}/grades   201 Grade; Idempotency-Key makes a repeat return the first answer
//
// and the corrections, removals and history listed at changeRoutes. Every answer that is one
// grade carries its version as an ETag.
func Routes(eps grading.Endpoints, logger log.Logger) []Route {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	opts := []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(encodeHTTPError),
		// Decode errors (bad JSON, bad ids) are the caller's mistake and already answered with a
		// 4xx and an access-log line; only failures on our side are worth logging here.
		kithttp.ServerErrorHandler(transport.ErrorHandlerFunc(func(ctx context.Context, err error) {
			if httpx.StatusOf(err) >= http.StatusInternalServerError {
				log.With(level.Error(logger), requestid.LogFields(ctx)...).Log("msg", "HTTP transport failed", "err", err)
			}
		})),
	}
	return append([]Route{
		{http.MethodGet, "/students", kithttp.NewServer(eps.ListStudentsEndpoint, decodeListStudentsRequest, encodeResponse(http.StatusOK), opts...)},
		{http.MethodGet, "/students/{id}", kithttp.NewServer(eps.GetStudentEndpoint, decodeGetStudentRequest, encodeResponse(http.StatusOK), opts...)},
		{http.MethodPost, "/students", kithttp.NewServer(eps.AddStudentEndpoint, decodeAddStudentRequest, encodeResponse(http.StatusCreated), opts...)},
		{http.MethodPost, "/students/{id}/grades", kithttp.NewServer(eps.AddGradeEndpoint, decodeAddGradeRequest, encodeResponse(http.StatusCreated), opts...)},
	}, changeRoutes(eps, opts)...)
}

func decodeListStudentsRequest(context.Context, *http.Request) (any, error) {
	return grading.ListStudentsRequest{}, nil
}

func decodeGetStudentRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	return grading.GetStudentRequest{ID: id}, nil
}

func decodeAddStudentRequest(_ context.Context, r *http.Request) (any, error) {
	var req grading.AddStudentRequest
	// go-kit decoders get no ResponseWriter; DecodeJSON still enforces the 1 MiB limit.
	if err := httpx.DecodeJSON(nil, r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeAddGradeRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	req := grading.AddGradeRequest{StudentID: id, IdempotencyKey: r.Header.Get(idempotency.Header)}
	if err := httpx.DecodeJSON(nil, r, &req.Grade); err != nil {
		return nil, err
	}
	return req, nil
}

// studentID reads {id} from the path. Anything that is not a positive int in its canonical
// decimal form ("01", "+1" and "0x1" are not) names no student, so it is a 404 like any unknown
// id, never a 500.
func studentID(r *http.Request) (int, error) {
	id, ok := grading.ParseStudentID(mux.Vars(r)["id"])
	if !ok {
		return 0, grading.ErrStudentNotFound
	}
	return id, nil
}

// encodeResponse writes a successful response as JSON with status, and a business error
// (carried by an endpoint.Failer) as the shared error body.
func encodeResponse(status int) kithttp.EncodeResponseFunc {
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		var body any
		switch r := response.(type) {
		case grading.ListStudentsResponse:
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
			if r.Students == nil {
				r.Students = []grading.Student{}
			}
			body = r.Students
		case grading.GetStudentResponse:
			body = r.Student
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
		case grading.AddStudentResponse:
			body = r.Student
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
		case grading.AddGradeResponse:
			body = r.Grade
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
			w.Header().Set("ETag", grading.ETag(r.Grade.Version))
		default:
			return fmt.Errorf("grading: no HTTP encoding for %T", response)
		}
		httpx.WriteJSON(w, status, body)
		return nil
	}
}

func encodeHTTPError(_ context.Context, err error, w http.ResponseWriter) {
	httpx.WriteError(w, err)
}
