package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
)

// BenchmarkAccessLog is a request through the runtime's handler chain as every service has it,
// logged at info on stderr (discarded here) and to a log shipper, which encodes each entry when
// it is logged. No log service is found: the shipper's queue is made large enough to take every
// entry, so that none is dropped before it is encoded.
func BenchmarkAccessLog(b *testing.B) {
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: "http://127.0.0.1:1", Name: "things", LogLevel: "info", CheckInterval: time.Second}
	rt, err := service.New(cfg, io.Discard, service.WithoutLogShipping())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close() })
	sh := logclient.NewShipper(nil, logclient.ShipperOptions{Service: "things", QueueSize: 1 << 22, QueueBytes: 1 << 31,
		Stderr: log.NewNopLogger()})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		sh.Close(ctx)
	})
	rt.AddLogSink(sh, nil)
	rt.Router.HandleFunc("/things/1", func(w http.ResponseWriter, r *http.Request) {}).Methods(http.MethodGet)
	h := rt.Handler()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/things/1", nil)
	req.Header.Set("X-Request-Id", "rid-1")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /things/1 = %d %s", rec.Code, rec.Body)
		}
	}
}
