package httpx

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestHostAllowList(t *testing.T) {
	// What a portal in a container has: -listen 0.0.0.0:5000 -advertise portal:5000, and one
	// public name behind a proxy.
	l, err := NewHostAllowList("0.0.0.0", "portal", "grades.school.example:8443", ".intra.example", " ", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"", true},
		{"127.0.0.1:5000", true},
		{"127.0.0.1:15000", true},
		{"localhost:15000", true},
		{"LOCALHOST", true},
		{"localhost.", true},
		{"app.localhost:5000", true},
		{"[::1]:5000", true},
		{"[::1]", true},
		{"10.1.2.3:5000", true},
		{"portal:5000", true},
		{"Portal", true},
		{"grades.school.example:8443", true},
		{"intra.example", true},
		{"portal.intra.example:80", true},

		{"evil.example", false},
		{"evil.example:5000", false},
		{"grades.school.example", false},
		{"grades.school.example:443", false},
		{"portal.evil.example", false},
		{"evilintra.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"portal:5000:1", false},
		{"a..b", false},
		{"127.0.0.1:5000.evil.example", false},
		{"\u212Aelvin.intra.example", false},
		{"portal:0", false},
	} {
		if got := l.Allows(tt.host); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}

	var zero HostAllowList
	if !zero.Allows("localhost:1") || zero.Allows("portal") {
		t.Error("the zero list should allow localhost only among names")
	}
	anyHost, _ := ParseHostList("portal,*")
	if !anyHost.Allows("evil.example") {
		t.Error("* should allow every name")
	}
}

func TestHostAllowListEntries(t *testing.T) {
	for _, bad := range []string{"http://portal", "portal/x", "portal:0", "portal:99999", "portal:x", ".", "a..b", "évil"} {
		if _, err := ParseHostList("ok," + bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseHostList(%q): err = %v, want one naming the entry", bad, err)
		}
	}
	if _, err := ParseHostList(""); err != nil {
		t.Errorf("an empty list: %v", err)
	}
}

// A DNS-rebinding page reaches the server as its own origin but with its own name in Host: 421,
// and the handler never runs; the server's own names still work.
func TestHostAllowListHandler(t *testing.T) {
	l, _ := ParseHostList("portal")
	ran := 0
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ }))
	r := httptest.NewRequest(http.MethodPost, "http://evil.example/students/1/grades", strings.NewReader("title=x"))
	r.Header.Set("Origin", "http://evil.example")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || ran != 0 || !strings.Contains(w.Body.String(), `"error":"this server does not answer to the host name \"evil.example\"`) {
		t.Errorf("rebound request: %d %s (handler ran %d times)", w.Code, w.Body, ran)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://portal:5000/health", nil))
	if w.Code != http.StatusOK || ran != 1 {
		t.Errorf("own name: %d (handler ran %d times)", w.Code, ran)
	}
}

func FuzzHostAllowList(f *testing.F) {
	for _, s := range []string{"portal", "portal:5000", "127.0.0.1:15000", "[::1]:1", "localhost", "a.localhost.", "evil.example",
		"PORTAL.", "[fe80::1%25eth0]:80", "portal.intra.example", ":5000", "[", "]:"} {
		f.Add(s)
	}
	l, err := NewHostAllowList("portal", "grades.example:8443", ".intra.example")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got := l.Allows(host)
		// Case never changes the answer.
		if isASCII(host) && l.Allows(strings.ToUpper(host)) != got {
			t.Errorf("%q and its upper case differ", host)
		}
		// Nothing under a name the attacker could own is allowed.
		if l.Allows(host + ".evil.example") {
			t.Errorf("%q.evil.example allowed", host)
		}
		// An entry parses, or says which one it is; a parsed entry allows itself.
		if e, err := NewHostAllowList(host); err == nil {
			if strings.TrimSpace(host) != "" && !e.Allows(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(host), "."))) && strings.TrimSpace(host) != "*" {
				t.Errorf("entry %q does not allow itself", host)
			}
		} else if !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(host))) {
			t.Errorf("error %q does not name %q", err, host)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
