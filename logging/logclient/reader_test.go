package logclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// deadAddr is an address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// knowsInstances waits until r has taken in its instancer's instances, which a new Reader does
// in the background: until then a read finds no instance at all.
func knowsInstances(t *testing.T, r *logclient.Reader) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, "the reader to know its instances", func() bool {
		_, err := r.Recent(context.Background(), 1)
		return !errors.Is(err, lb.ErrNoEndpoints)
	})
}

// TestReaderRecent reads what a shipper stored in the real log service: the newest entries,
// newest last, each with its fields.
func TestReaderRecent(t *testing.T) {
	ls := startLogServer(t)
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, testOptions(nil, &testkit.Buffer{}))
	for i := range 5 {
		sh.Log("level", "info", "msg", fmt.Sprint("m", i), "seq", i)
	}
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	r := logclient.NewReader(sd.FixedInstancer{ls.addr}, nil, nil)
	defer r.Close()
	knowsInstances(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.Recent(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0]["msg"] != "m3" || got[1]["msg"] != "m4" || got[1]["seq"] != float64(4) || got[1]["service"] != "grading" {
		t.Fatalf("Recent(2) = %v, want m3 then m4", got)
	}
	if all, err := r.Recent(ctx, 0); err != nil || len(all) != 5 {
		t.Errorf("Recent(0) = %d entries, %v; want the service's default, all 5", len(all), err)
	}
}

// TestReaderStepsOverAFailingInstance has one instance that is down and one that answers: every
// read succeeds, since a failed read is tried again on the next instance.
func TestReaderStepsOverAFailingInstance(t *testing.T) {
	var requestID atomic.Value
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID.Store(r.Header.Get("X-Request-ID"))
		if r.URL.Path != "/v1/logs" || r.URL.Query().Get("limit") != "50" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"msg":"up"}]`)
	}))
	defer good.Close()
	r := logclient.NewReader(sd.FixedInstancer{deadAddr(t), strings.TrimPrefix(good.URL, "http://")}, good.Client(), nil)
	defer r.Close()
	knowsInstances(t, r)
	ctx := requestid.NewContext(context.Background(), "req-7")
	for i := range 4 {
		got, err := r.Recent(ctx, 50)
		if err != nil || len(got) != 1 || got[0]["msg"] != "up" {
			t.Fatalf("read %d: %v, %v; want the answering instance's entry", i, got, err)
		}
	}
	if id, _ := requestID.Load().(string); id != "req-7" {
		t.Errorf("the log service saw request ID %q, want the caller's req-7", id)
	}
}

// TestReaderUnavailable: with no instance, or none that answers well, Recent fails with an
// errs.ErrUnavailable that says which service and why.
func TestReaderUnavailable(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusInternalServerError, "disk full")
	}))
	defer broken.Close()
	garbled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"msg":`)
	}))
	defer garbled.Close()
	tests := []struct {
		name      string
		instances []string
		want      string
	}{
		{"no instance", nil, "no endpoints"},
		{"nothing listening", []string{deadAddr(t)}, "connection refused"},
		{"an error answer", []string{broken.URL}, "500"},
		{"unreadable JSON", []string{garbled.URL}, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := logclient.NewReader(sd.FixedInstancer(tt.instances), nil, nil)
			defer r.Close()
			if tt.instances != nil {
				knowsInstances(t, r)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := r.Recent(ctx, 10)
			if !errors.Is(err, errs.ErrUnavailable) || !strings.HasPrefix(err.Error(), "the log service is unavailable") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Recent = %v, %v; want an ErrUnavailable about the log service mentioning %q", got, err, tt.want)
			}
		})
	}
}
