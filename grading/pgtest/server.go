package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gradebook/gradebook/internal/testkit"
)

// DebianBinaries is where Debian's postgresql packages install each major version's programs,
// one directory per version (/usr/lib/postgresql/15/bin, …).
const DebianBinaries = "/usr/lib/postgresql"

// Server is a PostgreSQL server of one test's own: a cluster made with initdb in a temporary
// directory and served by its own postgres process on a free port of 127.0.0.1. Stopping and
// starting it disturbs nobody else, so that a test can take the database away and bring it back
// for real, which a server that other tests share cannot allow. Its settings are the defaults,
// fsync included: what a restart keeps is what a production server would keep. Stop and Start
// end the test on failure, so call them from the test's goroutine.
type Server struct {
	t        testing.TB
	bin      string // the directory of initdb and postgres
	dir      string // the cluster's directory, holding data/
	port     int
	password string
	cred     *syscall.Credential // whom postgres runs as, when the test runs as root
	output   *testkit.Buffer     // postgres's output over every start, shown when the test fails

	mu      sync.Mutex
	cmd     *osexec.Cmd
	exited  chan struct{}
	exitErr error
}

// serverUser is the role that owns the cluster and the database gradebook in it.
const serverUser = "gradebook"

// StartServer makes a cluster and starts a server on it, with a database gradebook that the role
// gradebook owns, and answers once the server accepts connections. Without PostgreSQL's programs
// (Debian's package under DebianBinaries, or initdb and postgres on the PATH) the test is skipped
// with a message that says what to install, or, under CI (CI set), fails. PostgreSQL refuses to
// run as root: a test that runs as root runs it as the system user postgres, which the package
// creates. The server is stopped and its directory removed when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinaries(DebianBinaries)
	if err != nil {
		missing(t, "this test needs PostgreSQL's own programs to run a server of its own (%v). "+
			"Install them, e.g. apt-get install postgresql", err)
		return nil
	}
	s := &Server{t: t, bin: bin, output: &testkit.Buffer{}}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "PostgreSQL refuses to run as root, and there is no user postgres to run it as (%v). "+
				"Installing Debian's postgresql package creates one", err)
			return nil
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: that directory's parents are private to this user, and postgres may run as
	// another.
	s.dir, err = os.MkdirTemp("", "gradebook-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	s.password = hex.EncodeToString(b[:])
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		if err := os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", serverUser, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	_ = os.Remove(pwfile)
	s.port = serverPort(t)
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.urlOf("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect to the new server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE gradebook OWNER "+serverUser); err != nil {
		t.Fatalf("pgtest: CREATE DATABASE gradebook: %v", err)
	}
	return s
}

// URL is the database gradebook on the server, as the role that owns it. It stays the same
// across Stop and Start.
func (s *Server) URL() string { return s.urlOf("gradebook") }

func (s *Server) urlOf(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(serverUser, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Start starts the server on the cluster and port it had, and answers once it accepts
// connections. It fails the test if the server is running already or does not come up.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	if s.running() {
		s.mu.Unlock()
		s.t.Fatal("pgtest: Start: the server is running already")
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		// No socket file: the test reaches the server over TCP, and the default directory
		// (/var/run/postgresql) may belong to a server that others use.
		"-c", "unix_socket_directories=")
	cmd.Stdout, cmd.Stderr = s.output, s.output
	// Should the test binary die without stopping it, the server shuts down fast rather than
	// holding the port and the directory.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.exitErr = cmd, exited, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.urlOf("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-exited:
			s.t.Fatalf("pgtest: postgres exited while starting: %v\n%s", s.exitError(), s.output.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres accepts no connections 60s after start: %v\n%s", err, s.output.String())
		}
	}
}

// Stop shuts the server down the fast way (SIGINT): open transactions are rolled back, every
// client is disconnected, and what was committed is on disk. It answers once the process has
// exited, and fails the test if it has not within a minute.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Fatalf("pgtest: %v\n%s", err, s.output.String())
	}
}

func (s *Server) stop() error {
	s.mu.Lock()
	if !s.running() {
		s.mu.Unlock()
		return errors.New("Stop: the server is not running")
	}
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		return nil
	case <-time.After(time.Minute):
	}
	// Immediate shutdown, then no more asking.
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return errors.New("postgres did not stop within a minute of a fast shutdown")
}

// running reports whether the server's process is alive; s.mu is held.
func (s *Server) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *Server) exitError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitErr
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// command runs one of PostgreSQL's programs in the cluster's directory, as the user that owns it.
func (s *Server) command(path string, args ...string) *osexec.Cmd {
	cmd := osexec.Command(path, args...)
	// A working directory that the user postgres may enter, and an environment that names no
	// other server.
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

// cleanup stops the server if it runs, shows its output if the test failed, and removes the
// cluster.
func (s *Server) cleanup() {
	s.mu.Lock()
	up := s.running()
	s.mu.Unlock()
	if up {
		if err := s.stop(); err != nil {
			s.t.Errorf("pgtest: %v", err)
		}
	}
	if s.t.Failed() {
		s.t.Logf("pgtest: the output of the test's PostgreSQL server:\n%s", s.output.String())
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.t.Errorf("pgtest: remove the cluster: %v", err)
	}
}

// serverPort picks a free port below the kernel's range of ephemeral ports, from which outgoing
// connections take their local ports: a port in that range could be taken by any connection on
// the machine while the server is stopped, and the server could then not start on it again.
func serverPort(t testing.TB) int {
	t.Helper()
	const lowest = 10000
	ephemeral := 32768 // Linux's default start of the range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			ephemeral = atoiOr(f[0], ephemeral)
		}
	}
	if ephemeral-lowest < 1000 {
		return testkit.FreePort(t)
	}
	for range 100 {
		p := lowest + mrand.IntN(ephemeral-lowest)
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			ln.Close()
			return p
		}
	}
	return testkit.FreePort(t)
}

// findBinaries answers the directory that holds initdb and postgres: that of the newest major
// version under debian (the layout of Debian's packages), or else the directory of initdb on the
// PATH.
func findBinaries(debian string) (string, error) {
	entries, _ := os.ReadDir(debian)
	var versions []string
	for _, e := range entries {
		if hasPrograms(filepath.Join(debian, e.Name(), "bin")) {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) > 0 {
		slices.SortFunc(versions, compareVersions)
		return filepath.Join(debian, versions[len(versions)-1], "bin"), nil
	}
	initdb, err := osexec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("no version under %s, and no initdb on the PATH", debian)
	}
	if dir := filepath.Dir(initdb); hasPrograms(dir) {
		return dir, nil
	}
	return "", fmt.Errorf("%s has no postgres beside it", initdb)
}

func hasPrograms(dir string) bool {
	for _, p := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// compareVersions orders version names such as 9.6, 15 and 16 by their numbers; a part that is
// not a number sorts before any number.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		x, y := -1, -1
		if i < len(as) {
			x = atoiOr(as[i], -1)
		}
		if i < len(bs) {
			y = atoiOr(bs[i], -1)
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

func atoiOr(s string, fallback int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fallback
	}
	return n
}

// missing ends a test that cannot have what it needs: skipped loudly, or failed under CI, where
// a skip would hide that the test never ran.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL is required under CI: "+format, args...)
		return
	}
	t.Skipf("SKIPPED: "+format, args...)
}
