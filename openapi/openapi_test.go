package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/openapi"
	"github.com/gradebook/gradebook/openapi/openapitest"
)

// TestDocuments checks that both documents are valid OpenAPI 3.1 as kin-openapi reads it, and
// that the portal's keeps grading's operations under its server /api/v1, with the CSV answer.
func TestDocuments(t *testing.T) {
	g := openapitest.Load(t, openapi.Grading())
	pb, err := openapi.Portal()
	if err != nil {
		t.Fatal(err)
	}
	p := openapitest.Load(t, pb)
	for name, d := range map[string]string{"grading": g.OpenAPI, "portal": p.OpenAPI} {
		if d != "3.1.0" {
			t.Errorf("%s document is OpenAPI %q; want 3.1.0", name, d)
		}
	}
	if len(p.Servers) != 1 || p.Servers[0].URL != "/api/v1" {
		t.Errorf("portal servers = %v; want /api/v1", p.Servers)
	}
	for path, item := range g.Paths.Map() {
		if path == "/openapi.json" {
			continue
		}
		pi := p.Paths.Find(path)
		if pi == nil {
			t.Errorf("portal document lacks %s", path)
			continue
		}
		for method := range item.Operations() {
			if pi.GetOperation(method) == nil {
				t.Errorf("portal document lacks %s %s", method, path)
			}
		}
	}
	list := p.Paths.Find("/students").Get.Responses.Status(200).Value.Content
	if list.Get("text/csv") == nil || list.Get("application/json") == nil {
		t.Errorf("portal GET /students answers %v; want JSON and CSV", list)
	}
	// The grading document is written once: deriving the portal's must not change it.
	var again map[string]any
	if err := json.Unmarshal(openapi.Grading(), &again); err != nil || again["servers"].([]any)[0].(map[string]any)["url"] != "http://127.0.0.1:6000" {
		t.Errorf("grading document changed by deriving the portal's: %v", again["servers"])
	}
}

func TestPortalDocumentReadsInOrder(t *testing.T) {
	b, err := openapi.Portal()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) || !strings.HasPrefix(string(b), "{\n  \"openapi\": \"3.1.0\",\n  \"info\"") {
		t.Fatalf("the portal's document does not begin with its version and info:\n%.200s", b)
	}
}
