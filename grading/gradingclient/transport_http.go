package gradingclient

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

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// MaxResponseBody bounds what the client reads from a grading instance, so that a confused or
// hostile peer cannot exhaust the caller's memory.
const MaxResponseBody = 32 << 20

// MakeHTTPClientEndpoints returns grading.Endpoints that call the grading instance at instance
// ("host:port", as go-kit sd hands it out, or a base URL) through client. Business errors come
// back as the same domain errors the local service returns, inside the response; transport
// failures (refused, timeouts, 5xx, garbled answers) are the endpoint's error, so that circuit
// breakers and retries act on them and only on them.
func MakeHTTPClientEndpoints(instance string, client *http.Client) (grading.Endpoints, error) {
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	u, err := url.Parse(instance)
	if err != nil {
		return grading.Endpoints{}, fmt.Errorf("grading instance %q: %w", instance, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return grading.Endpoints{}, fmt.Errorf("grading instance %q: want host:port or an http URL", instance)
	}
	c := &httpClient{
		base: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/"),
		send: roundTripper(client),
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	eps := grading.Endpoints{
		ListStudentsEndpoint: c.listStudents,
		GetStudentEndpoint:   c.getStudent,
		AddStudentEndpoint:   c.addStudent,
		AddGradeEndpoint:     c.addGrade,
	}
	c.addChangeEndpoints(&eps)
	return eps, nil
}

type httpClient struct {
	base string
	send func(*http.Request) (*http.Response, error)
	// bufs holds response buffers: reading a body whole into a reused buffer both drains it
	// (so the connection goes back to the pool) and keeps allocations per call low.
	bufs sync.Pool
}

// roundTripper is how calls go through client (nil: http.DefaultClient). Grading never
// redirects, so a 3xx answer is a failed call, never followed. A client with no Timeout and no
// Jar (NewHTTPClient's: each call carries its deadline in its context) is used through its
// Transport alone, which spares each call what http.Client.Do adds for redirects: a copy of the
// request's headers, and the bookkeeping of a chain of requests.
func roundTripper(client *http.Client) func(*http.Request) (*http.Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if client.Timeout == 0 && client.Jar == nil {
		rt := client.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		return rt.RoundTrip
	}
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return noRedirects.Do
}

func (c *httpClient) listStudents(ctx context.Context, _ any) (any, error) {
	var resp grading.ListStudentsResponse
	resp.Err = c.do(ctx, http.MethodGet, "/students", nil, "", "", http.StatusOK, &resp.Students)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) getStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.GetStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent endpoint got %T", request)
	}
	var resp grading.GetStudentResponse
	resp.Err = c.do(ctx, http.MethodGet, "/students/"+strconv.Itoa(req.ID), nil, "", "", http.StatusOK, &resp.Student)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) addStudent(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.AddStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent endpoint got %T", request)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var resp grading.AddStudentResponse
	resp.Err = c.do(ctx, http.MethodPost, "/students", body, "", "", http.StatusCreated, &resp.Student)
	if err := transportErr(resp.Err); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *httpClient) addGrade(ctx context.Context, request any) (any, error) {
	req, ok := request.(grading.AddGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade endpoint got %T", request)
	}
	body, err := json.Marshal(req.Grade)
	if err != nil {
		// Only NaN or Inf scores fail to marshal: answer as the service would.
		return grading.AddGradeResponse{Err: errs.Fields(req.Valid(ctx))}, nil
	}
	var resp grading.AddGradeResponse
	resp.Err = c.do(ctx, http.MethodPost, "/students/"+strconv.Itoa(req.StudentID)+"/grades", body,
		"", req.IdempotencyKey, http.StatusCreated, &resp.Grade)
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

// do sends one request (with If-Match and Idempotency-Key headers when ifMatch and idemKey are
// set) and decodes a want-status answer into out (nothing to decode when out is nil). It returns a business error
// decoded from a 4xx answer, or a *transportError for everything that should trip a breaker.
// Every response body is read to the end and closed, so connections are reused.
func (c *httpClient) do(ctx context.Context, method, path string, body []byte, ifMatch, idemKey string, want int, out any) error {
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
		req.Header.Set(idempotency.Header, idemKey)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.send(req)
	if err != nil {
		return &transportError{err}
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer c.bufs.Put(buf)
	_, rerr := buf.ReadFrom(io.LimitReader(resp.Body, MaxResponseBody+1))
	if rerr == nil && buf.Len() > MaxResponseBody {
		rerr = fmt.Errorf("answer is larger than %d bytes", MaxResponseBody)
	}
	if rerr != nil {
		// Whatever is left is abandoned with the connection.
		resp.Body.Close()
		return &transportError{fmt.Errorf("grading %s %s: reading the answer: %w", method, path, rerr)}
	}
	resp.Body.Close()

	switch {
	case resp.StatusCode == want:
		if out == nil {
			return nil
		}
		if err := unmarshal(buf.Bytes(), out); err != nil {
			return &transportError{fmt.Errorf("grading %s %s: undecodable answer: %w", method, path, err)}
		}
		return nil
	case isBusinessStatus(resp.StatusCode):
		return decodeHTTPError(resp.StatusCode, buf.Bytes())
	default:
		return &transportError{fmt.Errorf("grading %s %s: %s: %s", method, path, resp.Status, errorMessage(buf.Bytes()))}
	}
}

// unmarshal decodes an answer into out; a student, the answer read most, in one pass.
func unmarshal(data []byte, out any) error {
	if s, ok := out.(*grading.Student); ok {
		return grading.UnmarshalStudent(data, s)
	}
	return json.Unmarshal(data, out)
}

// isBusinessStatus tells the answers that are about the request (and would be the same on any
// instance) from those about the instance (5xx, overload, timeouts), which a retry may fix.
func isBusinessStatus(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusPreconditionFailed:
		return true
	}
	return false
}

// decodeHTTPError turns an error answer back into the domain error the service returned, so
// that a caller through HTTP sees exactly what a local caller sees.
func decodeHTTPError(status int, body []byte) error {
	var eb httpx.ErrorBody
	_ = json.Unmarshal(body, &eb)
	if err := knownError(status, eb.Error); err != nil {
		return err
	}
	switch status {
	case http.StatusNotFound:
		return grading.ErrStudentNotFound
	case http.StatusConflict:
		return grading.ErrIdempotencyConflict
	case http.StatusUnauthorized:
		return errs.New(errs.ErrUnauthorized, nonEmpty(eb.Error, "unauthorized"))
	default:
		if len(eb.Fields) > 0 {
			return errs.FieldErrors(eb.Fields)
		}
		return errs.New(errs.ErrInvalid, nonEmpty(eb.Error, http.StatusText(status)))
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
