package jaegertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/testkit"
)

// Jaeger is a real Jaeger all-in-one running as a child process of the test.
type Jaeger struct {
	t      testing.TB
	addrs  jaeger.Addrs
	dir    string
	config string
	bin    string
	logf   *os.File
	proc   *testkit.Process
}

// Start builds Jaeger (once per pin and Go version; a cold build takes minutes), starts it on free
// ports of 127.0.0.1 and waits until it takes traces and answers queries. It is stopped at t's
// cleanup. Under CI=true a failure to build or start it fails the test; otherwise the test is
// skipped with a loud message, so that a developer without a warm Go build cache is not blocked.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t)
	ports := testkit.FreePorts(t, 4)
	var err error
	j := &Jaeger{
		t:     t,
		bin:   bin,
		dir:   t.TempDir(),
		addrs: jaeger.Addrs{Host: "127.0.0.1", UI: ports[0], QueryGRPC: ports[1], OTLPGRPC: ports[2], OTLPHTTP: ports[3]},
	}
	if j.config, err = jaeger.WriteConfig(j.dir, j.addrs, 10000, "warn"); err != nil {
		t.Fatalf("jaeger config: %v", err)
	}
	t.Cleanup(func() {
		j.Stop()
		if t.Failed() {
			t.Logf("jaeger log (tail):\n%s", j.logTail())
		}
	})
	if err := j.start(); err != nil {
		unavailable(t, "start Jaeger", fmt.Errorf("%w\n%s", err, j.logTail()))
	}
	return j
}

// Binary is the Jaeger all-in-one built from tools/jaeger (once per pin and Go version; a cold
// build takes minutes), for a test that runs it itself, as "gradebook up -tracing -jaeger-bin"
// does. Under CI=true a failed build fails the test; otherwise the test is skipped loudly.
func Binary(t testing.TB) string {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := jaeger.Binary(context.Background(), root, nil)
	if err != nil {
		unavailable(t, "build Jaeger", err)
	}
	return bin
}

// Addrs are where this Jaeger listens.
func (j *Jaeger) Addrs() jaeger.Addrs { return j.addrs }

// UIURL is the base URL of its UI and HTTP query API.
func (j *Jaeger) UIURL() string { return j.addrs.UIURL() }

// OTLPEnv are the environment variables that make a service export its spans to this Jaeger
// over OTLP/HTTP.
func (j *Jaeger) OTLPEnv() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.addrs.OTLPHTTPEndpoint(), "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"}
}

func (j *Jaeger) start() error {
	logf, err := os.OpenFile(filepath.Join(j.dir, "jaeger.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := jaeger.Command(j.bin, j.config)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, j.dir
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		logf.Close()
		return err
	}
	j.proc, j.logf = proc, logf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return jaeger.WaitReady(ctx, j.addrs, proc.Exited())
}

// Stop stops Jaeger: SIGTERM, then SIGKILL if it has not exited after a few seconds. Everything
// it held is gone; stopping a stopped Jaeger does nothing.
func (j *Jaeger) Stop() {
	if j.proc == nil {
		return
	}
	j.proc.Stop(10 * time.Second)
	j.logf.Close()
	j.proc = nil
}

func (j *Jaeger) logTail() string {
	b, _ := os.ReadFile(filepath.Join(j.dir, "jaeger.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Span is one span of a trace as Jaeger's query API (/api/traces/{id}) gives it, with the name of
// the service that sent it.
type Span struct {
	TraceID       string
	SpanID        string
	ParentSpanID  string // "" for a root span
	OperationName string
	Service       string
	Kind          string // the span.kind tag: server, client, internal, …
	Tags          map[string]any
}

// Trace fetches the trace with the given ID (32 hex digits). found is false while Jaeger does not
// have it (yet): spans arrive in batches, so callers poll.
func (j *Jaeger) Trace(traceID string) (spans []Span, found bool, err error) {
	return TraceAt(j.UIURL(), traceID)
}

// TraceAt is Trace from the Jaeger whose UI and query API is at uiURL, one that the test did not
// start itself (as "gradebook up -tracing" does).
func TraceAt(uiURL, traceID string) (spans []Span, found bool, err error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(uiURL + "/api/traces/" + traceID)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("GET /api/traces/%s: %s", traceID, resp.Status)
	}
	var body struct {
		Data []struct {
			Spans []struct {
				TraceID       string `json:"traceID"`
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				ProcessID     string `json:"processID"`
				References    []struct {
					RefType string `json:"refType"`
					SpanID  string `json:"spanID"`
				} `json:"references"`
				Tags []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, false, fmt.Errorf("GET /api/traces/%s: %w", traceID, err)
	}
	for _, tr := range body.Data {
		for _, s := range tr.Spans {
			sp := Span{TraceID: s.TraceID, SpanID: s.SpanID, OperationName: s.OperationName,
				Service: tr.Processes[s.ProcessID].ServiceName, Tags: map[string]any{}}
			for _, r := range s.References {
				if r.RefType == "CHILD_OF" {
					sp.ParentSpanID = r.SpanID
				}
			}
			for _, tag := range s.Tags {
				sp.Tags[tag.Key] = tag.Value
			}
			sp.Kind, _ = sp.Tags["span.kind"].(string)
			spans = append(spans, sp)
		}
	}
	return spans, len(spans) > 0, nil
}

// unavailable fails the test under CI and skips it loudly elsewhere.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("could not %s (required under CI): %v", what, err)
	}
	t.Skipf("\n*** SKIPPED: could not %s: %v\n*** This test needs a real Jaeger; under CI=true it fails instead of skipping.", what, err)
}
