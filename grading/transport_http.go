package grading

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kit/kit/transport"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// IdempotencyKeyHeader names the header that makes a grade post safe to repeat.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxResponseBody bounds what the client reads from a grading instance, so that a confused or
// hostile peer cannot exhaust the caller's memory.
const maxResponseBody = 32 << 20

// MakeHTTPHandler serves the grading routes (listed at AddHTTPRoutes) on their own router, with
// request IDs. A service inside the shared runtime uses AddHTTPRoutes on rt.Router instead.
func MakeHTTPHandler(eps Endpoints, logger log.Logger) http.Handler {
	r := httpx.NewRouter()
	AddHTTPRoutes(r, eps, logger)
	return httpx.WithRequestIDs(r)
}

// AddHTTPRoutes adds the grading routes to r:
//
//	GET  /students               200 [Student...]
//	GET  /students/{id}          200 Student, or 404
//	POST /students               201 Student
//	POST /students/{id}/grades   201 Grade; Idempotency-Key makes a repeat return the first answer
func AddHTTPRoutes(r *mux.Router, eps Endpoints, logger log.Logger) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	opts := []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(encodeHTTPError),
		// Decode errors (bad JSON, bad ids) are the caller's mistake and already answered with a
		// 4xx and an access-log line; only failures on our side are worth logging here.
		kithttp.ServerErrorHandler(transport.ErrorHandlerFunc(func(ctx context.Context, err error) {
			if httpx.StatusOf(err) >= http.StatusInternalServerError {
				level.Error(logger).Log("msg", "HTTP transport failed", "err", err, "request_id", httpx.RequestID(ctx))
			}
		})),
	}
	r.Methods(http.MethodGet).Path("/students").Handler(kithttp.NewServer(
		eps.ListStudentsEndpoint, decodeListStudentsRequest, encodeResponse(http.StatusOK), opts...))
	r.Methods(http.MethodGet).Path("/students/{id}").Handler(kithttp.NewServer(
		eps.GetStudentEndpoint, decodeGetStudentRequest, encodeResponse(http.StatusOK), opts...))
	r.Methods(http.MethodPost).Path("/students").Handler(kithttp.NewServer(
		eps.AddStudentEndpoint, decodeAddStudentRequest, encodeResponse(http.StatusCreated), opts...))
	r.Methods(http.MethodPost).Path("/students/{id}/grades").Handler(kithttp.NewServer(
		eps.AddGradeEndpoint, decodeAddGradeRequest, encodeResponse(http.StatusCreated), opts...))
}

func decodeListStudentsRequest(context.Context, *http.Request) (any, error) {
	return ListStudentsRequest{}, nil
}

func decodeGetStudentRequest(_ context.Context, r *http.Request) (any, error) {
	id, err := studentID(r)
	if err != nil {
		return nil, err
	}
	return GetStudentRequest{ID: id}, nil
}

func decodeAddStudentRequest(_ context.Context, r *http.Request) (any, error) {
	var req AddStudentRequest
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
	req := AddGradeRequest{StudentID: id, IdempotencyKey: r.Header.Get(IdempotencyKeyHeader)}
	if err := httpx.DecodeJSON(nil, r, &req.Grade); err != nil {
		return nil, err
	}
	return req, nil
}

// studentID reads {id} from the path. Anything that is not a positive int names no student,
// so it is a 404 like any unknown id, never a 500.
func studentID(r *http.Request) (int, error) {
	id, err := strconv.Atoi(mux.Vars(r)["id"])
	if err != nil || id <= 0 {
		return 0, ErrStudentNotFound
	}
	return id, nil
}

// encodeResponse writes a successful response as JSON with status, and a business error
// (carried by an endpoint.Failer) as the shared error body.
func encodeResponse(status int) kithttp.EncodeResponseFunc {
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		var body any
		switch r := response.(type) {
		case ListStudentsResponse:
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
			if r.Students == nil {
				r.Students = []Student{}
			}
			body = r.Students
		case GetStudentResponse:
			body = r.Student
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
		case AddStudentResponse:
			body = r.Student
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
		case AddGradeResponse:
			body = r.Grade
			if r.Err != nil {
				httpx.WriteError(w, r.Err)
				return nil
			}
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

// MakeHTTPClientEndpoints returns Endpoints that call the grading instance at instance
// ("host:port", as go-kit sd hands it out, or a base URL) through client. Business errors come
// back as the same domain errors the local service returns, inside the response; transport
// failures (refused, timeouts, 5xx, garbled answers) are the endpoint's error, so that circuit
// breakers and retries act on them and only on them.
func MakeHTTPClientEndpoints(instance string, client *http.Client) (Endpoints, error) {
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	u, err := url.Parse(instance)
	if err != nil {
		return Endpoints{}, fmt.Errorf("grading instance %q: %w", instance, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return Endpoints{}, fmt.Errorf("grading instance %q: want host:port or an http URL", instance)
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := &httpClient{
		base:   u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/"),
		client: client,
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	return Endpoints{
		ListStudentsEndpoint: c.listStudents,
		GetStudentEndpoint:   c.getStudent,
		AddStudentEndpoint:   c.addStudent,
		AddGradeEndpoint:     c.addGrade,
	}, nil
}

type httpClient struct {
	base   string
	client *http.Client
	// bufs holds response buffers: reading a body whole into a reused buffer both drains it
	// (so the connection goes back to the pool) and keeps allocations per call low.
	bufs sync.Pool
}

func (c *httpClient) listStudents(ctx context.Context, _ any) (any, error) {
	var resp ListStudentsResponse
	resp.Err = c.do(ctx, http.MethodGet, "/students", nil, "", http.StatusOK, &resp.Students)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) getStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(GetStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent endpoint got %T", request)
	}
	var resp GetStudentResponse
	resp.Err = c.do(ctx, http.MethodGet, "/students/"+strconv.Itoa(req.ID), nil, "", http.StatusOK, &resp.Student)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) addStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(AddStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent endpoint got %T", request)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var resp AddStudentResponse
	resp.Err = c.do(ctx, http.MethodPost, "/students", body, "", http.StatusCreated, &resp.Student)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) addGrade(ctx context.Context, request any) (any, error) {
	req, ok := request.(AddGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade endpoint got %T", request)
	}
	body, err := json.Marshal(req.Grade)
	if err != nil {
		// Only NaN or Inf scores fail to marshal: answer as the service would.
		return AddGradeResponse{Err: invalid(req.Valid(ctx))}, nil
	}
	var resp AddGradeResponse
	resp.Err = c.do(ctx, http.MethodPost, "/students/"+strconv.Itoa(req.StudentID)+"/grades", body,
		req.IdempotencyKey, http.StatusCreated, &resp.Grade)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

// transportError marks a failure of the call itself rather than a business answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// transportErr unwraps a *transportError returned by do. A type assertion, not errors.As,
// because do never wraps it and errors.As would cost an allocation per call.
func transportErr(err error) error {
	if te, ok := err.(*transportError); ok {
		return te.err
	}
	return nil
}

// do sends one request and decodes a want-status answer into out. It returns a business error
// decoded from a 4xx answer, or a *transportError for everything that should trip a breaker.
// Every response body is read to the end and closed, so connections are reused.
func (c *httpClient) do(ctx context.Context, method, path string, body []byte, idemKey string, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return &transportError{err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	httpx.SetRequestID(ctx, req)
	if idemKey != "" {
		req.Header.Set(IdempotencyKeyHeader, idemKey)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return &transportError{err}
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer c.bufs.Put(buf)
	_, rerr := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBody+1))
	if rerr == nil && buf.Len() > maxResponseBody {
		rerr = fmt.Errorf("answer is larger than %d bytes", maxResponseBody)
	}
	if rerr != nil {
		// Whatever is left is abandoned with the connection.
		resp.Body.Close()
		return &transportError{fmt.Errorf("grading %s %s: reading the answer: %w", method, path, rerr)}
	}
	resp.Body.Close()

	switch {
	case resp.StatusCode == want:
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return &transportError{fmt.Errorf("grading %s %s: undecodable answer: %w", method, path, err)}
		}
		return nil
	case isBusinessStatus(resp.StatusCode):
		return decodeHTTPError(resp.StatusCode, buf.Bytes())
	default:
		return &transportError{fmt.Errorf("grading %s %s: %s: %s", method, path, resp.Status, errorMessage(buf.Bytes()))}
	}
}

// isBusinessStatus tells the answers that are about the request (and would be the same on any
// instance) from those about the instance (5xx, overload, timeouts), which a retry may fix.
func isBusinessStatus(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// decodeHTTPError turns an error answer back into the domain error the service returned, so
// that a caller through HTTP sees exactly what a local caller sees.
func decodeHTTPError(status int, body []byte) error {
	var eb httpx.ErrorBody
	_ = json.Unmarshal(body, &eb)
	switch status {
	case http.StatusNotFound:
		return ErrStudentNotFound
	case http.StatusConflict:
		return ErrIdempotencyConflict
	case http.StatusUnauthorized:
		return &Error{Msg: nonEmpty(eb.Error, "unauthorized"), Kind: errs.ErrUnauthorized}
	default:
		if len(eb.Fields) > 0 {
			return errs.FieldErrors(eb.Fields)
		}
		return &Error{Msg: nonEmpty(eb.Error, http.StatusText(status)), Kind: errs.ErrInvalid}
	}
}

func errorMessage(body []byte) string {
	var eb httpx.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strings.TrimSpace(string(body))
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
