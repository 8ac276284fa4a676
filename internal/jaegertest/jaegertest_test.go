package jaegertest_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/jaegertest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// TestJaegerTakesOTLPAndAnswersQueries sends one span over OTLP/HTTP (its JSON encoding, so that
// the test needs no SDK) to a private Jaeger and finds it through the query API, with its service
// and parent; then checks that Jaeger listens on 127.0.0.1 only, and that Stop frees its ports.
func TestJaegerTakesOTLPAndAnswersQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts Jaeger")
	}
	j := jaegertest.Start(t)
	const traceID, spanID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00f067aa0ba902b7"
	now := time.Now()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"jaegertest"}}]},
"scopeSpans":[{"scope":{"name":"jaegertest"},"spans":[{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":"GET /students/{id}","kind":2,
"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, traceID, spanID, parentID, now.UnixNano(), now.Add(time.Millisecond).UnixNano())
	resp, err := http.Post(j.Addrs().OTLPHTTPEndpoint()+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %s", resp.Status)
	}
	testkit.Until(t, 30*time.Second, func() string {
		spans, found, err := j.Trace(traceID)
		switch {
		case err != nil:
			return err.Error()
		case !found:
			return "Jaeger does not have the trace yet"
		case len(spans) != 1:
			return fmt.Sprintf("%d spans, want 1: %+v", len(spans), spans)
		}
		s := spans[0]
		if s.SpanID != spanID || s.ParentSpanID != parentID || s.Service != "jaegertest" || s.OperationName != "GET /students/{id}" || s.Kind != "server" {
			return fmt.Sprintf("span %+v; want %s, child of %s, a server span of jaegertest named GET /students/{id}", s, spanID, parentID)
		}
		return ""
	})

	// Only on 127.0.0.1: the same port on another local address is not Jaeger's.
	port := strconv.Itoa(j.Addrs().UI)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", port), time.Second); err == nil {
		c.Close()
		t.Errorf("Jaeger's UI answers on 127.0.0.2:%s; it should listen on 127.0.0.1 only", port)
	}

	j.Stop()
	for name, addr := range j.Addrs().Listens() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s (%s) still taken after Stop: %v", name, addr, err)
			continue
		}
		ln.Close()
	}
}
