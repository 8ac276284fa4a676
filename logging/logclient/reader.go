package logclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

const (
	// readAttempts is how many tries one Recent makes, each on the next instance: a read is
	// safe to repeat, and another instance may answer when one is sick.
	readAttempts = 2
	// readTimeout bounds one Recent, its retries included; the caller's context may end it sooner.
	readTimeout = 5 * time.Second
	// maxAnswerBytes bounds the answer read from a log instance: 1000 entries (the most GET
	// /v1/logs answers) of a typical size fit many times over.
	maxAnswerBytes = 16 << 20
)

// Reader reads the newest entries from the log service (GET /v1/logs), from an instance found
// through an sd.Instancer, trying the next instance when one fails. It is what people's views of
// the log, such as the portal's /status page, read through. Close stops it.
type Reader struct {
	endpointer *sd.DefaultEndpointer
	read       endpoint.Endpoint
	client     *http.Client
	ownClient  bool
}

// NewReader returns a Reader of the instances instancer reports, sending its requests with client
// (nil: a client of the Reader's own) and logging the instances' comings and goings to logger
// (nil: nowhere). The instancer stays the caller's: Close does not stop it.
func NewReader(instancer sd.Instancer, client *http.Client, logger log.Logger) *Reader {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	r := &Reader{client: client}
	if r.client == nil {
		r.client = &http.Client{Timeout: readTimeout}
		r.ownClient = true
	}
	r.endpointer = sd.NewEndpointer(instancer, r.factory, log.With(logger, "dependency", ServiceName))
	r.read = lb.RetryWithCallback(readTimeout, lb.NewRoundRobin(r.endpointer), retryReads)
	return r
}

// retryReads tries another instance after a failure, unless there is none or the caller gave up.
func retryReads(n int, err error) (bool, error) {
	if errors.Is(err, lb.ErrNoEndpoints) || errors.Is(err, context.Canceled) {
		return false, nil
	}
	return n < readAttempts, nil
}

// Recent returns the newest limit entries, newest last, each as its JSON object. The log service
// answers at most 1000 whatever limit asks; limit < 1 takes its default (100). When no instance
// could answer (none is known, every one tried failed, or ctx or the Reader's own bound of a few
// seconds ran out), the error wraps errs.ErrUnavailable.
func (r *Reader) Recent(ctx context.Context, limit int) ([]map[string]any, error) {
	resp, err := r.read(ctx, recentRequest{limit: limit})
	if err != nil {
		var re lb.RetryError
		if errors.As(err, &re) && re.Final != nil {
			err = re.Final
		}
		return nil, fmt.Errorf("the %s service is %w: %w", ServiceName, errs.ErrUnavailable, err)
	}
	return resp.([]map[string]any), nil
}

// Close stops following the instancer's instances. Recent must not be called after it.
func (r *Reader) Close() {
	r.endpointer.Close()
	if r.ownClient {
		r.client.CloseIdleConnections()
	}
}

type recentRequest struct{ limit int }

// factory makes the endpoint that reads recent entries from one log instance.
func (r *Reader) factory(instance string) (endpoint.Endpoint, io.Closer, error) {
	url := instanceURL(instance, "/v1/logs")
	return func(ctx context.Context, request any) (any, error) {
		target := url
		if req, _ := request.(recentRequest); req.limit > 0 {
			target += "?limit=" + strconv.Itoa(req.limit)
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		httpx.SetRequestID(ctx, hreq)
		resp, err := r.client.Do(hreq)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
			return nil, fmt.Errorf("%s answered %s", instance, resp.Status)
		}
		var entries []map[string]any
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&entries); err != nil {
			return nil, fmt.Errorf("%s answered unreadable JSON: %w", instance, err)
		}
		return entries, nil
	}, nil, nil
}
