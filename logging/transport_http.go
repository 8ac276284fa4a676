package logging

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// Limits of GET /v1/logs.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// AddRoutes puts the log service's routes on r:
//
//	POST /log       one text/plain line, as the course's services send it
//	POST /v1/logs   a JSON array of entries
//	GET  /v1/logs   recent entries: ?service=&instance=&request_id=&level=&since=&limit=
func AddRoutes(r *mux.Router, svc Service, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	r.Handle("/log", handleCourseLine(svc, now)).Methods(http.MethodPost)
	r.Handle("/v1/logs", handlePostBatch(svc, now)).Methods(http.MethodPost)
	r.Handle("/v1/logs", handleRecent(svc, now)).Methods(http.MethodGet, http.MethodHead)
}

// readBody reads at most httpx.MaxBody bytes; a larger body is a *http.MaxBytesError (413).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := httpx.ReadBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: reading the body: %v", errs.ErrInvalid, err)
	}
	return b, nil
}

type acceptedResponse struct {
	Accepted int `json:"accepted"`
	// Duplicate says the batch had been stored before, under the same Idempotency-Key.
	Duplicate bool `json:"duplicate,omitempty"`
}

// handlePostBatch takes POST /v1/logs. An Idempotency-Key header names the batch, so that a batch
// sent again (its answer was lost, or came too late) is acknowledged without being stored twice.
func handlePostBatch(svc Service, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		entries, err := DecodeBatch(body, now())
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		duplicate, err := svc.Append(r.Context(), r.Header.Get(idempotency.Header), entries)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, acceptedResponse{Accepted: len(entries), Duplicate: duplicate})
	})
}

// handleCourseLine takes the course's POST /log: the body is the line. The course's services send
// no service name, so one may come in an X-Service header or a ?service= parameter.
func handleCourseLine(svc Service, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		// Stored as JSON, invalid UTF-8 would become U+FFFD: a line nobody wrote.
		if !utf8.Valid(body) {
			httpx.WriteError(w, errs.FieldErrors{"body": "the log line must be valid UTF-8 text"})
			return
		}
		line := strings.TrimRight(string(body), "\r\n")
		if strings.TrimSpace(line) == "" {
			httpx.Error(w, http.StatusBadRequest, "the body must be a log line; it is empty")
			return
		}
		service := r.Header.Get("X-Service")
		if service == "" {
			service = r.URL.Query().Get("service")
		}
		if !utf8.ValidString(service) {
			httpx.WriteError(w, errs.FieldErrors{"service": "must be valid UTF-8 text"})
			return
		}
		if len(service) > maxNameLen {
			httpx.Error(w, http.StatusBadRequest, fmt.Sprintf("the service name is longer than %d bytes", maxNameLen))
			return
		}
		e := logclient.Entry{Time: now().UTC(), Service: service, Msg: line}
		if _, err := svc.Append(r.Context(), "", []logclient.Entry{e}); err != nil {
			httpx.WriteError(w, err)
			return
		}
		// The course's client checks for 200.
		httpx.WriteJSON(w, http.StatusOK, acceptedResponse{Accepted: 1})
	})
}

func handleRecent(svc Service, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseQuery(r, now())
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		lines, err := svc.Recent(r.Context(), q)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		// The lines are stored JSON already; join them instead of decoding and encoding again.
		buf := make([]byte, 0, 64*len(lines)+3)
		buf = append(buf, '[')
		for i, l := range lines {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, l...)
		}
		buf = append(buf, "]\n"...)
		_, _ = w.Write(buf)
	})
}

// parseQuery reads GET /v1/logs's filters. since is an RFC 3339 time or a Go duration back from
// now ("5m"); limit is 1 to MaxLimit (default DefaultLimit), larger values are cut to MaxLimit.
func parseQuery(r *http.Request, now time.Time) (Query, error) {
	v := r.URL.Query()
	q := Query{
		Service:   v.Get("service"),
		Instance:  v.Get("instance"),
		RequestID: v.Get("request_id"),
		Limit:     DefaultLimit,
	}
	fields := errs.FieldErrors{}
	if lvl := v.Get("level"); lvl != "" {
		switch n := logclient.NormalizeLevel(lvl); n {
		case "debug", "info", "warn", "error":
			q.MinLevel = n
		default:
			fields["level"] = fmt.Sprintf("%q is not a level; want debug, info, warn or error", lvl)
		}
	}
	if s := v.Get("since"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			q.Since = t
		} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			q.Since = now.Add(-d)
		} else {
			fields["since"] = fmt.Sprintf("%q is neither an RFC 3339 time nor a duration such as 5m", s)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1:
			fields["limit"] = fmt.Sprintf("%q is not a whole number from 1 to %d", s, MaxLimit)
		case n > MaxLimit:
			q.Limit = MaxLimit
		default:
			q.Limit = n
		}
	}
	if len(fields) > 0 {
		return Query{}, fields
	}
	return q, nil
}
