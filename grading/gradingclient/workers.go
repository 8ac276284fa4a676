package gradingclient

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/kit/endpoint"
)

// workerIdle is how long a call worker waits for another call before it ends.
const workerIdle = 10 * time.Second

// callWorkers run calls to grading on goroutines kept from one call to the next.
//
// lb.Retry makes each attempt on a goroutine of its own, so that it can give up on an attempt
// that outlives the call's deadline. A new goroutine starts with a small stack, and an HTTP or
// gRPC call (breaker, tracing, the transport) needs several times more: the runtime grew and
// copied the stack of every call's goroutine, 4-7 % of the portal's CPU under load. Handing the
// call to a worker whose stack has already grown, as gRPC's servers do with their stream
// workers, leaves lb.Retry's goroutine shallow. A call that finds no worker idle starts one,
// which stays for later calls until it has been idle for workerIdle: there are as many workers
// as calls in flight at the busiest moment of the last few seconds, and none when idle or
// once close has been called.
type callWorkers struct {
	jobs      chan *workerCall
	calls     sync.Pool
	closed    chan struct{}
	closeOnce sync.Once
}

type workerCall struct {
	ctx     context.Context
	e       endpoint.Endpoint
	request any
	resp    any
	err     error
	done    chan struct{}
}

func newCallWorkers() *callWorkers {
	return &callWorkers{
		jobs:   make(chan *workerCall),
		calls:  sync.Pool{New: func() any { return &workerCall{done: make(chan struct{}, 1)} }},
		closed: make(chan struct{}),
	}
}

// close ends the idle workers, and every busy one once its call returns. A call made after
// close still runs, on a goroutine that ends with it.
func (w *callWorkers) close() { w.closeOnce.Do(func() { close(w.closed) }) }

// wrap returns e run on a worker, as the same endpoint: it returns when e does.
func (w *callWorkers) wrap(e endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c := w.calls.Get().(*workerCall)
		c.ctx, c.e, c.request = ctx, e, request
		select {
		case w.jobs <- c:
		default:
			go w.work(c)
		}
		<-c.done
		resp, err := c.resp, c.err
		*c = workerCall{done: c.done}
		w.calls.Put(c)
		return resp, err
	}
}

// work runs c, then the calls it is handed, until none has come for workerIdle or w is closed.
func (w *callWorkers) work(c *workerCall) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.resp, c.err = c.e(c.ctx, c.request)
		c.done <- struct{}{}
		idle.Reset(workerIdle)
		select {
		case c = <-w.jobs:
		case <-idle.C:
			return
		case <-w.closed:
			return
		}
	}
}
