package registry

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/httpx"
)

// FuzzDecodeRegistration feeds the registration decoder hostile bodies: it must answer with a
// record or an error, never panic, and what it accepts must be safe to run.
//
//	go test ./registry -run '^$' -fuzz FuzzDecodeRegistration -fuzztime 30s
func FuzzDecodeRegistration(f *testing.F) {
	for _, seed := range []string{
		`{"Name":"grading","ID":"g1","Port":6000,"Tags":["a"],"Meta":{"k":"v"}}`,
		`{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1/health","Interval":"1s","Timeout":"5s","DeregisterCriticalServiceAfter":"1m"}}`,
		`{"Name":"x","Checks":[{"TCP":"127.0.0.1:1","Interval":"50ms"},{"TTL":"10s","Status":"passing","CheckID":"c"}]}`,
		`{"Name":"x","Check":{"HTTP":"http://h","Interval":"10","Header":{"A":["b"]},"Method":"post"}}`,
		`{"Name":"","Port":-1}`, `{"Name":"x","Check":{"TTL":"-1s"}}`, `{"Name":"x","Checks":[null,{}]}`,
		`[]`, `{`, `null`, `{"Name":"x"} {"Name":"y"}`, `{"Name":"a/b"}`,
		// The attacks the input policy stops.
		`{"Name":"x","ID":".."}`, `{"Name":".."}`, `{"Name":"x","ID":"."}`, `{"Name":"x","ID":"a\u0000"}`,
		`{"Name":"x","ID":"\u001b[2J"}`, "{\"Name\":\"x\",\"ID\":\"a\xff\"}", `{"Name":"x","ID":"a\u0085"}`,
		`{"Name":"x","Tags":["` + strings.Repeat("t", 300) + `"]}`, `{"Name":"x","Meta":{"a.b":"v"}}`,
		`{"Name":"x","Meta":{"consul-x":"v"}}`, `{"Name":"x","Meta":{"k":"` + strings.Repeat("v", 600) + `"}}`,
		`{"Name":"x","Checks":[{"CheckID":"..","TTL":"1s"}]}`,
		`{"Name":"x","Check":{"HTTP":"http://h","Interval":"1s","SuccessBeforePassing":2,"FailuresBeforeWarning":1,"FailuresBeforeCritical":3}}`,
		`{"Name":"x","Check":{"HTTP":"http://h","Interval":"1s","FailuresBeforeCritical":-1}}`,
		`{"Name":"x","Check":{"HTTP":"http://h","Interval":"1s","FailuresBeforeWarning":4,"FailuresBeforeCritical":2}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		svc, checks, err := decodeRegistration(body)
		if err != nil {
			if svc != nil || checks != nil {
				t.Fatalf("an error with a result: %v", err)
			}
			return
		}
		if strings.TrimSpace(svc.Service.Service) == "" || svc.Service.ID == "" || strings.Contains(svc.Service.ID, "/") {
			t.Fatalf("accepted a service without a usable name or ID: %+v", svc.Service)
		}
		if p := identifierProblem(svc.Service.ID) + identifierProblem(svc.Service.Service); p != "" {
			t.Fatalf("accepted ID %q, name %q: %s", svc.Service.ID, svc.Service.Service, p)
		}
		fe := map[string]string{}
		validTags(fe, svc.Service.Tags)
		validMeta(fe, svc.Service.Meta)
		if len(fe) > 0 {
			t.Fatalf("accepted tags or meta the limits refuse: %v", fe)
		}
		if svc.Service.Port < 0 || svc.Service.Port > 65535 {
			t.Fatalf("accepted port %d", svc.Service.Port)
		}
		for _, cs := range checks {
			d := cs.Def
			if d.CheckID == "" || d.Name == "" {
				t.Fatalf("check without ID or name: %+v", d)
			}
			if p := identifierProblem(d.CheckID); p != "" && !strings.HasPrefix(d.CheckID, "service:") {
				t.Fatalf("accepted check ID %q: %s", d.CheckID, p)
			}
			if d.TTL == 0 && (d.Interval < minInterval || d.Timeout <= 0 || d.Timeout > d.Interval) {
				t.Fatalf("check with interval %v, timeout %v", d.Interval, d.Timeout)
			}
			if d.SuccessBeforePassing < 0 || d.FailuresBeforeWarning < 0 || d.FailuresBeforeWarning > d.FailuresBeforeCritical {
				t.Fatalf("check with thresholds %d, %d, %d", d.SuccessBeforePassing, d.FailuresBeforeWarning, d.FailuresBeforeCritical)
			}
			if _, ok := normalizeStatus(cs.Status); !ok {
				t.Fatalf("check with status %q", cs.Status)
			}
		}
	})
}

// TestCheckThresholds follows one check's results through its thresholds, as Consul's
// StatusHandler would: the first result counts at once, later ones once enough come in a row.
func TestCheckThresholds(t *testing.T) {
	for _, tc := range []struct {
		name              string
		success, warn, cr int
		results, want     string // one letter a result: p passing, w warning, c critical; "-" held back
	}{
		{"none", 0, 0, 0, "pccpwp", "pccpwp"},
		{"critical after 2", 0, 2, 2, "pcpccc", "p-p-cc"},
		{"first failure counts at once", 0, 2, 2, "cpc", "cp-"},
		{"passing after 2", 2, 0, 0, "cppcpp", "c-pc-p"},
		{"first success counts at once", 2, 0, 0, "p", "p"},
		{"warning at 2, critical at 3", 0, 2, 3, "pcccp", "p-wcp"},
		{"warning counts as a success", 2, 0, 0, "cwpw", "c-pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := checkDef{SuccessBeforePassing: tc.success, FailuresBeforeWarning: tc.warn, FailuresBeforeCritical: tc.cr}
			th := newThresholds(def)
			status := map[byte]string{'p': "passing", 'w': "warning", 'c': "critical"}
			got := ""
			for i := range len(tc.results) {
				s, ok := th.next(status[tc.results[i]])
				if !ok {
					got += "-"
					continue
				}
				got += s[:1]
			}
			if got != tc.want {
				t.Errorf("results %s recorded as %s, want %s", tc.results, got, tc.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "0s", true}, {"10s", "10s", true}, {"2000ms", "2s", true}, {"5m", "5m0s", true}, {"10", "10s", true},
		{"soon", "", false}, {"-1s", "", false}, {"1e400", "", false},
	}
	for _, tc := range cases {
		d, err := parseDuration("wait", tc.in)
		if (err == nil) != tc.ok || (tc.ok && d.String() != tc.want) {
			t.Errorf("parseDuration(%q) = %v, %v; want %s ok=%v", tc.in, d, err, tc.want, tc.ok)
		}
	}
}

// FuzzIdentifier checks the rule for IDs and names against what a route can carry: whatever it
// accepts is one path segment that no client or router cleans into another, and one line of
// valid text.
//
//	go test ./registry -run '^$' -fuzz FuzzIdentifier -fuzztime 30s
func FuzzIdentifier(f *testing.F) {
	for _, s := range []string{"grading", "grading-127.0.0.1-6000", "..", ".", "a/b", "../x", "a\x00", "\x1b[2J", "a\xff", "a\u0085", "é", "...", strings.Repeat("i", MaxIDLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if identifierProblem(s) != "" {
			return
		}
		if s == "." || s == ".." || strings.Contains(s, "/") || len(s) > MaxIDLen || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("identifierProblem(%q) found nothing wrong", s)
		}
		if s != "" && httpx.UncleanPath("/v1/agent/service/deregister/"+s) {
			t.Fatalf("accepted %q, which makes an unclean path", s)
		}
	})
}
