package logging

import (
	"context"
	"io"
	"time"

	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/service"
)

// ServiceName is the name the log service registers under, and the one shippers look up.
const ServiceName = "log"

// Attach ships every entry rt logs to the log service, found through rt's registry, with the
// service's name, instance and token; the runtime flushes the queue at shutdown. Every service
// but the log service itself calls it right after service.New. The Shipper's own troubles go to
// stderr alone, so that they never lead back into it.
func Attach(rt *service.Runtime, stderr io.Writer) *logclient.Shipper {
	sh := logclient.NewShipper(rt.Instancer(ServiceName), logclient.ShipperOptions{
		Service:  rt.Config.Name,
		Instance: rt.Config.Advertise,
		Metrics:  rt.Metrics,
		Stderr:   logclient.StderrLogger(stderr, rt.Config.Name),
		Token:    rt.Config.Token,
	})
	stderrLog := logclient.StderrLogger(stderr, rt.Config.Name)
	rt.AddLogSink(sh, func(ctx context.Context) error {
		// A log service that is gone must not hold up a shutdown: what cannot be shipped in a
		// few seconds is reported (it is on stderr already) and the service still exits cleanly.
		ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
		defer cancel()
		if err := sh.Close(ctx); err != nil {
			level.Warn(stderrLog).Log("msg", "log entries not shipped at shutdown", "err", err)
		}
		return nil
	})
	return sh
}

// FlushTimeout bounds how long a stopping service waits to ship its last log entries.
const FlushTimeout = 3 * time.Second
