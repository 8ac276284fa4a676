package server

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/internal/testkit"
)

// When the disk could not take a write, grading answered 500 "internal error" and its /health
// stayed passing, so the registry kept sending it traffic it could not serve. Now the write is a
// 503 naming the class of failure and nothing else (no path), /health turns critical, and both
// come back by themselves once writes succeed again.
func TestDiskFullIs503AndTurnsHealthCritical(t *testing.T) {
	if !testkit.Isolate(t) {
		return
	}
	data := t.TempDir()
	grpcAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	addr, stderr, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-grpc-listen", grpcAddr,
		"-data", data, "-registry", "http://127.0.0.1:1"}, nil)
	defer stop()
	conn, err := gradingclient.DialGRPC(grpcAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	grade := `{"title":"Quiz 9","type":"Quiz","score":75}`

	restore := testkit.LimitFileSize(t)
	code, body := call(http.MethodPost, "/students/1/grades", grade)
	if code != http.StatusServiceUnavailable || body != `{"error":"storage unavailable: file size limit reached"}` {
		t.Errorf("a grade on a full disk = %d %s; want 503 {\"error\":\"storage unavailable: file size limit reached\"}", code, body)
	}
	if code, body := call(http.MethodPost, "/students", `{"firstName":"Ann","lastName":"Lee"}`); code != http.StatusServiceUnavailable || strings.Contains(body, data) {
		t.Errorf("a student on a full disk = %d %s; want 503 without the path", code, body)
	}
	code, body = call(http.MethodGet, "/health", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"critical"`) || !strings.Contains(body, "storage unavailable") || strings.Contains(body, data) {
		t.Errorf("/health on a full disk = %d %s; want 503 critical, storage unavailable, no path", code, body)
	}
	_, err = pb.NewGradingClient(conn).AddStudent(context.Background(), &pb.AddStudentRequest{FirstName: "Ann", LastName: "Lee"})
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "storage unavailable: file size limit reached" {
		t.Errorf("a student over gRPC on a full disk = %v; want UNAVAILABLE \"storage unavailable: file size limit reached\"", err)
	}
	// Reads still work: the data is there.
	if code, body := call(http.MethodGet, "/students/1", ""); code != http.StatusOK {
		t.Errorf("a read on a full disk = %d %s; want 200", code, body)
	}

	restore()
	testkit.Eventually(t, 5*time.Second, "/health passing once writes succeed again", func() bool {
		code, _ := call(http.MethodGet, "/health", "")
		return code == http.StatusOK
	})
	if code, body := call(http.MethodPost, "/students/1/grades", grade); code != http.StatusCreated {
		t.Errorf("a grade once the disk has room = %d %s; want 201", code, body)
	}
	if code, body := call(http.MethodGet, "/students/1", ""); strings.Count(body, "Quiz 9") != 1 {
		t.Errorf("student 1 = %d %s; want the grade recorded once", code, body)
	}
	if t.Failed() || strings.Contains(stderr.String(), "panic") {
		t.Errorf("the service panicked:\n%s", stderr)
	}
}
