// Package prometheustest gives tests the Prometheus server pinned in tools/prometheus and reads
// what it found: its targets and the answers to its queries. Under CI=true a Prometheus that
// cannot be built fails the test; elsewhere the test is skipped with a loud message.
package prometheustest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/internal/testkit"
)

// Binary is the Prometheus server built from tools/prometheus (once per pin and Go version; a
// cold build takes many minutes), for a test that runs it, as "gradebook up -monitoring
// -prometheus-bin" does. Under CI=true a failed build fails the test; otherwise the test is
// skipped loudly.
func Binary(t testing.TB) string {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := prometheus.Binary(context.Background(), root, nil)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("could not build Prometheus (required under CI): %v", err)
		}
		t.Skipf("\n*** SKIPPED: could not build Prometheus: %v\n*** This test needs a real Prometheus; under CI=true it fails instead of skipping.", err)
	}
	return bin
}

// Promtool is promtool built from tools/promtool (once per pin and Go version), for a test that
// checks rules and configurations with it. Under CI=true a failed build fails the test; otherwise
// the test is skipped loudly.
func Promtool(t testing.TB) string {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := prometheus.PromtoolBinary(context.Background(), root, nil)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("could not build promtool (required under CI): %v", err)
		}
		t.Skipf("\n*** SKIPPED: could not build promtool: %v\n*** This test needs a real promtool; under CI=true it fails instead of skipping.", err)
	}
	return bin
}

// Target is one scrape target as /api/v1/targets lists it.
type Target struct {
	Labels    map[string]string `json:"labels"`
	ScrapeURL string            `json:"scrapeUrl"`
	Health    string            `json:"health"` // up, down or unknown (not scraped yet)
	LastError string            `json:"lastError"`
}

// Targets are the active targets of the Prometheus whose API is at base (http://host:port).
func Targets(base string) ([]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	if err := get(base+"/api/v1/targets?state=active", &data); err != nil {
		return nil, err
	}
	return data.ActiveTargets, nil
}

// Sample is one series of an instant query's answer: its labels and its value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs the instant query q on the Prometheus whose API is at base.
func Query(base, q string) ([]Sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := get(base+"/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: a %s, want a vector", q, data.ResultType)
	}
	out := make([]Sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// get decodes the data of a Prometheus API answer at u into data.
func get(u string, data any) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", u, env.Status, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}
