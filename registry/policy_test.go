package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/text"
)

// hubCall sends one request to the hub without following redirects, and answers the status, the
// decoded error body and the raw body.
func hubCall(t *testing.T, base, method, path, body string) (int, httpx.ErrorBody, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb httpx.ErrorBody
	_ = json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb, string(raw)
}

// jsonString is s as a JSON string, invalid UTF-8 kept as raw bytes (json.Marshal would replace
// it).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	if strings.ToValidUTF8(s, "") != s {
		return `"` + s + `"`
	}
	return string(b)
}

// The hub took the ID "..", which no client can then deregister (the path is cleaned to another
// route) and which survived restarts; and IDs and names with "/", control characters or invalid
// UTF-8, or of any length. Each is a JSON 400 naming the field now, on Consul's API and on the
// course protocol.
func TestRegistryRefusesDotDotID(t *testing.T) {
	h := startHub(t)
	for _, tc := range []struct{ name, id, svc, field string }{
		{"ID ..", "..", "x", "ID"},
		{"ID .", ".", "x", "ID"},
		{"ID with /", "a/b", "x", "ID"},
		{"ID ../x", "../x", "x", "ID"},
		{"ID with NUL", "a\x00", "x", "ID"},
		{"ID with ESC", "\x1b[2Ja", "x", "ID"},
		{"ID with C1", "a\u009b", "x", "ID"},
		{"ID not UTF-8", "a\xff", "x", "ID"},
		{"ID too long", strings.Repeat("i", MaxIDLen+1), "x", "ID"},
		{"name ..", "", "..", "Name"},
		{"name with /", "", "a/b", "Name"},
		{"name with a newline", "", "a\nb", "Name"},
		{"name too long", "", strings.Repeat("n", MaxIDLen+1), "Name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"ID":%s,"Name":%s}`, jsonString(tc.id), jsonString(tc.svc))
			code, eb, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/register", body)
			if code != http.StatusBadRequest || eb.Fields[tc.field] == "" {
				t.Fatalf("register %s = %d %s; want a JSON 400 naming %s", body, code, raw, tc.field)
			}
		})
	}
	// The longest ID and name allowed, with every kind of text, still register and can be removed.
	id := strings.Repeat("é", MaxIDLen/2)
	code, _, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/register", fmt.Sprintf(`{"ID":%q,"Name":"Zoë's service"}`, id))
	if code != http.StatusOK {
		t.Fatalf("register a %d-byte ID = %d %s", len(id), code, raw)
	}
	if code, _, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/deregister/"+id, ""); code != http.StatusOK {
		t.Errorf("deregister it = %d %s", code, raw)
	}
	count := func() int {
		h.cat.mu.Lock()
		defer h.cat.mu.Unlock()
		return len(h.cat.services)
	}
	services := count()
	for _, tc := range []struct{ name, body, field string }{
		{"name ..", `{"ServiceName":"..","ServiceURL":"http://127.0.0.1:1","HeartbeatURL":"http://127.0.0.1:1/h"}`, "ServiceName"},
		{"name with /", `{"ServiceName":"a/b","ServiceURL":"http://127.0.0.1:1","HeartbeatURL":"http://127.0.0.1:1/h"}`, "ServiceName"},
		{"name with NUL", `{"ServiceName":"a\u0000","ServiceURL":"http://127.0.0.1:1","HeartbeatURL":"http://127.0.0.1:1/h"}`, "ServiceName"},
		{"name not UTF-8", "{\"ServiceName\":\"a\xff\",\"ServiceURL\":\"http://127.0.0.1:1\",\"HeartbeatURL\":\"http://127.0.0.1:1/h\"}", "ServiceName"},
		{"required ..", `{"ServiceName":"a","ServiceURL":"http://127.0.0.1:1","HeartbeatURL":"http://127.0.0.1:1/h","ServiceUpdateURL":"http://127.0.0.1:1/u","RequiredServices":[".."]}`, "RequiredServices[0]"},
	} {
		t.Run("course protocol "+tc.name, func(t *testing.T) {
			code, eb, raw := hubCall(t, h.URL(), http.MethodPost, "/services", tc.body)
			if code != http.StatusBadRequest || eb.Fields[tc.field] == "" {
				t.Fatalf("POST /services %s = %d %s; want a JSON 400 naming %s", tc.body, code, raw, tc.field)
			}
		})
	}
	if got := count(); got != services {
		t.Errorf("the refused registrations changed the catalog from %d to %d services", services, got)
	}
}

// A 900 KB tag was accepted and saved with the catalog. Tags and meta are bounded now: meta by
// Consul's own rules, tags by the hub's.
func TestRegistryBoundsTagsAndMeta(t *testing.T) {
	h := startHub(t)
	manyMeta := map[string]string{}
	for i := range MaxMetaPairs + 1 {
		manyMeta[fmt.Sprintf("k%d", i)] = "v"
	}
	manyTags := make([]string, MaxTags+1)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf("t%d", i)
	}
	for _, tc := range []struct {
		name  string
		reg   map[string]any
		field string
	}{
		{"a 900 KB tag", map[string]any{"Tags": []string{strings.Repeat("t", 900<<10)}}, "Tags[0]"},
		{"a tag over the limit", map[string]any{"Tags": []string{"ok", strings.Repeat("t", MaxTagLen+1)}}, "Tags[1]"},
		{"too many tags", map[string]any{"Tags": manyTags}, "Tags"},
		{"a tag with a control character", map[string]any{"Tags": []string{"a\x07"}}, "Tags[0]"},
		{"too many meta pairs", map[string]any{"Meta": manyMeta}, "Meta"},
		{"a meta key with a dot", map[string]any{"Meta": map[string]string{"a.b": "v"}}, "Meta.a.b"},
		{"an empty meta key", map[string]any{"Meta": map[string]string{"": "v"}}, "Meta."},
		{"a meta key over 128 bytes", map[string]any{"Meta": map[string]string{strings.Repeat("k", MaxMetaKeyLen+1): "v"}}, "Meta"},
		{"a reserved meta key", map[string]any{"Meta": map[string]string{"consul-version": "v"}}, "Meta.consul-version"},
		{"a meta value over 512 bytes", map[string]any{"Meta": map[string]string{"k": strings.Repeat("v", MaxMetaValueLen+1)}}, "Meta.k"},
		{"a meta value with NUL", map[string]any{"Meta": map[string]string{"k": "v\x00"}}, "Meta.k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.reg["Name"] = "bounded"
			b, _ := json.Marshal(tc.reg)
			code, eb, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/register", string(b))
			if code != http.StatusBadRequest || eb.Fields[tc.field] == "" {
				t.Fatalf("register with %s = %d %s; want a JSON 400 naming %s", tc.name, code, text.Clip(raw, 300), tc.field)
			}
		})
	}
	// At the limits exactly, a registration is taken.
	meta := map[string]string{}
	for i := range MaxMetaPairs - 1 {
		meta[fmt.Sprintf("k%d", i)] = strings.Repeat("v", MaxMetaValueLen)
	}
	meta[strings.Repeat("k", MaxMetaKeyLen)] = "v"
	tags := make([]string, MaxTags)
	for i := range tags {
		tags[i] = strings.Repeat("t", MaxTagLen-3) + fmt.Sprintf("%03d", i)
	}
	if err := consulClient(t, h.URL(), "").Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "bounded", Tags: tags, Meta: meta}); err != nil {
		t.Errorf("a registration at every limit: %v", err)
	}
}

// "../" in a path got an empty 301 to the cleaned path, so that a PUT meant for one route was
// redirected to another. Every unclean path is a JSON 404 now.
func TestRegistryTraversalIsJSON404NotRedirect(t *testing.T) {
	h := startHub(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/v1/agent/service/deregister/.."},
		{http.MethodPut, "/v1/agent/service/deregister/../../agent/service/register"},
		{http.MethodGet, "/v1/agent/service/%2e%2e"},
		{http.MethodGet, "/v1/health/service/../../agent/services"},
		{http.MethodGet, "//v1/agent/services"},
		{http.MethodGet, "/v1/agent/./services"},
	} {
		code, eb, raw := hubCall(t, h.URL(), tc.method, tc.path, "")
		if code != http.StatusNotFound || eb.Error == "" {
			t.Errorf("%s %s = %d %q; want a JSON 404", tc.method, tc.path, code, raw)
		}
	}
}

// A catalog saved before IDs were validated may hold "..": the hub still starts, leaves that
// service out (with a warning), saves the catalog without it, and keeps the others.
func TestSavedDotDotIDIsDroppedAtLoad(t *testing.T) {
	c := newCatalog()
	for _, id := range []string{"..", "good-1"} {
		svc := &serviceState{Service: api.AgentService{ID: id, Service: "grading", Tags: []string{}, Meta: map[string]string{}}}
		if _, _, _, err := c.register(svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := c.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	file := filepath.Join(data, catalogFile)
	if err := os.WriteFile(file, snap, 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, "-data", data)
	services, err := consulClient(t, h.URL(), "").Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := services[".."]; ok {
		t.Errorf("the hub loaded the service \"..\"")
	}
	if _, ok := services["good-1"]; !ok {
		t.Errorf("the hub lost good-1 with it: %v", services)
	}
	testkit.Eventually(t, 5*time.Second, "the catalog saved without \"..\"", func() bool {
		b, err := os.ReadFile(file)
		return err == nil && !strings.Contains(string(b), `"ID":".."`) && strings.Contains(string(b), `"ID":"good-1"`)
	})
}

// A catalog that could not be saved answered 503 with the file's path in the message, and the
// hub's /health stayed passing. Now the answer names only the class of failure, /health is
// critical, and both recover once a save succeeds.
func TestRegistryStorageFailureIs503AndHealthCritical(t *testing.T) {
	if !testkit.Isolate(t) {
		return
	}
	h := startHub(t)
	reg := `{"Name":"grading","ID":"grading-9","Port":6000}`
	restore := testkit.LimitFileSize(t)
	code, _, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/register", reg)
	if code != http.StatusServiceUnavailable || strings.TrimSpace(raw) != `{"error":"storage unavailable: file size limit reached"}` {
		t.Errorf("register while the catalog cannot be saved = %d %s; want 503 {\"error\":\"storage unavailable: file size limit reached\"}", code, raw)
	}
	code, _, raw = hubCall(t, h.URL(), http.MethodGet, "/health", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(raw, "critical") || strings.Contains(raw, h.Data) {
		t.Errorf("/health while the catalog cannot be saved = %d %s; want 503 critical without the path", code, raw)
	}
	restore()
	testkit.Eventually(t, 5*time.Second, "/health passing once a save succeeds", func() bool {
		code, _, _ := hubCall(t, h.URL(), http.MethodGet, "/health", "")
		return code == http.StatusOK
	})
	if code, _, raw := hubCall(t, h.URL(), http.MethodPut, "/v1/agent/service/register", reg); code != http.StatusOK {
		t.Errorf("register once saves succeed = %d %s; want 200", code, raw)
	}
}
