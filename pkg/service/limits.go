package service

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gradebook/gradebook/pkg/netx"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// headerTimeout bounds reading a request's headers, within the whole request's -read-timeout.
const headerTimeout = 10 * time.Second

// LimitListener bounds ln to the service's -max-conns open connections (netx.Limiter: one past
// the limit is accepted and closed at once), lowered to fit the process's open-file limit, and
// exposes the listener's open connections, its limit and its refusals on /metrics with the label
// listener=name. The runtime does this to its HTTP listener ("http"); a service with a listener
// of its own (grading's gRPC) calls it too, once per name, which its metrics are registered
// under.
func (rt *Runtime) LimitListener(ln net.Listener, name string) net.Listener {
	limit, lowered := netx.CapToFileLimit(rt.Config.MaxConns)
	if lowered {
		files, _ := netx.FileLimit()
		level.Warn(rt.Logger).Log("msg", "the open-file limit is too low for -max-conns; holding fewer connections open",
			"listener", name, "max_conns", rt.Config.MaxConns, "open_file_limit", files, "holding_at_most", limit)
	}
	lim := netx.LimitListener(ln, limit)
	labels := prometheus.Labels{"listener": name}
	opts := func(n, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: telemetry.Namespace, Subsystem: "net", Name: n, Help: help, ConstLabels: labels}
	}
	rt.Metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("connections_open", "Connections the listener holds open.")),
		func() float64 { return float64(lim.Open()) }))
	rt.Metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("connections_limit", "The most connections the listener holds open at once (-max-conns).")),
		func() float64 { return float64(lim.Max()) }))
	rt.Metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts(opts("connections_rejected_total", "Connections closed as soon as they were accepted, because the listener held its limit.")),
		func() float64 { return float64(lim.Rejected()) }))
	return lim
}

// newServer is the HTTP server of the runtime: -read-timeout bounds the reading of each whole
// request, so that a client trickling its body is cut off, and there is no write timeout, which
// would cut off the registry's blocking queries (minutes long) and any slow download alike.
func (rt *Runtime) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           boundReads(h),
		ReadTimeout:       rt.Config.ReadTimeout,
		ReadHeaderTimeout: min(headerTimeout, rt.Config.ReadTimeout),
		IdleTimeout:       120 * time.Second,
		ErrorLog:          nil,
	}
}

// boundReads keeps http.Server.ReadTimeout to what it is for, reading the request, in two ways.
//
// Once the request has been read (at once for a request without a body, at the body's end
// otherwise), it lifts the read deadline. net/http leaves it in place while the handler runs,
// and when it passes, the server's watch on the idle connection fails and cancels the request's
// context: a registry blocking query, which may wait ten minutes for a change, would end after
// -read-timeout.
//
// And a handler that answers with an error before reading the body (a 401 for a write without
// the token, say) closes the connection at once: net/http would otherwise read up to 256 KiB of
// the unread body, which a client trickling it makes last until the read deadline, holding the
// connection for nothing.
func boundReads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body == nil || r.Body == http.NoBody {
			_ = rc.SetReadDeadline(time.Time{})
			next.ServeHTTP(w, r)
			return
		}
		body := &watchedBody{ReadCloser: r.Body, atEOF: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		// A copy: net/http looks at the original request's body after the handler to decide
		// whether to read the rest, and must see its own.
		r2 := *r
		r2.Body = body
		cw := &closeOnUnreadBody{ResponseWriter: w, body: body}
		next.ServeHTTP(cw, &r2)
		if cw.closing {
			// net/http reads what is left of the body when it closes it, whether or not the
			// connection is to be reused; a read deadline already passed makes that read end
			// at once.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// watchedBody is a request body that notes when it has been read to its end.
type watchedBody struct {
	io.ReadCloser
	atEOF func()
	eof   atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.eof.Swap(true) {
		b.atEOF()
	}
	return n, err
}

// closeOnUnreadBody asks net/http to close the connection after an error answer given before the
// body was read to its end.
type closeOnUnreadBody struct {
	http.ResponseWriter
	body        *watchedBody
	wroteHeader bool
	closing     bool // the answer said Connection: close
}

func (w *closeOnUnreadBody) WriteHeader(code int) {
	if !w.wroteHeader && code >= 400 && !w.body.eof.Load() {
		w.Header().Set("Connection", "close")
		w.closing = true
	}
	w.wroteHeader = w.wroteHeader || code >= 200
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeOnUnreadBody) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (w *closeOnUnreadBody) Unwrap() http.ResponseWriter { return w.ResponseWriter }
