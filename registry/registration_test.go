package registry

import (
	"strings"
	"testing"
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
		if svc.Service.Port < 0 || svc.Service.Port > 65535 {
			t.Fatalf("accepted port %d", svc.Service.Port)
		}
		for _, cs := range checks {
			d := cs.Def
			if d.CheckID == "" || d.Name == "" {
				t.Fatalf("check without ID or name: %+v", d)
			}
			if d.TTL == 0 && (d.Interval < minInterval || d.Timeout <= 0 || d.Timeout > d.Interval) {
				t.Fatalf("check with interval %v, timeout %v", d.Interval, d.Timeout)
			}
			if _, ok := normalizeStatus(cs.Status); !ok {
				t.Fatalf("check with status %q", cs.Status)
			}
		}
	})
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
