package portal

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/portal/auth"
)

// Defaults of the portal's flags, as the README lists them.
const (
	DefaultListen = "127.0.0.1:5000"
	DefaultName   = "portal"
)

// Run runs the teacher portal until ctx ends: the pages, /status and the /api/v1 gateway over
// the grading instances found through the registry.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	rt, err := newRuntime(args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	return rt.Serve(ctx)
}

// newRuntime builds the portal's runtime with every route on it, ready to Serve. A non-nil
// gradingInstancer replaces the registry's view of grading (tests and benchmarks pin instances).
func newRuntime(args []string, getenv func(string) string, stderr io.Writer, gradingInstancer sd.Instancer) (*service.Runtime, error) {
	fs := flag.NewFlagSet("teacherportalservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config.Common
	cfg.Bind(fs, config.Defaults{Listen: DefaultListen, Name: DefaultName, Data: "data/" + DefaultName})
	transport := fs.String("grading-transport", "http", "how to reach grading: `http` or grpc (the instances registered with that tag)")
	gradingName := fs.String("grading-name", "grading", "registered `name` of the grading service to use")
	logName := fs.String("log-name", "log", "registered `name` of the log service whose recent lines /status shows")
	users := fs.String("users", "", "users `file`: one name:hash line per teacher (make a line with: gradebook user hash NAME); without it the portal is open to anyone who reaches it")
	sessionKeyFile := fs.String("session-key-file", "", "`file` holding the secret that seals session cookies (at least 32 bytes, e.g. openssl rand -hex 32); every portal instance must share it")
	sessionTTL := fs.Duration("session-ttl", DefaultSessionTTL, "how long a sign-in lasts")
	tracingUI := fs.String("tracing-ui", "", "base `URL` of a tracing UI such as Jaeger's (http://localhost:16686): /status links each recent log line to its trace at URL/trace/<trace_id>")
	openPortal := fs.Bool("open", false, "serve without -users even on a non-loopback -listen address: anyone who reaches the portal can see and change grades")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: teacherportalservice [flags]\n\n"+
			"Serves the teacher portal (web pages and the /api/v1 gateway) over the grading\n"+
			"instances found through the registry.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := validTracingUI(*tracingUI); err != nil {
		return nil, err
	}
	switch *transport {
	case "http", "grpc":
	default:
		return nil, fmt.Errorf("-grading-transport %q: want http or grpc", *transport)
	}

	signIn, err := loadSignIn(cfg, *users, *sessionKeyFile, *sessionTTL, *openPortal)
	if err != nil {
		return nil, err
	}

	rt, err := service.New(cfg, stderr, service.WithEnv(getenv))
	if err != nil {
		return nil, err
	}
	// The stylesheet is fetched with every first page view; its lines would only be noise.
	rt.QuietRoutes("/static/")
	var gradingGroups func() []discovery.Group
	if gradingInstancer == nil {
		// Grading registers each transport's endpoint under the same name, tagged http or grpc:
		// an untagged lookup would hand HTTP clients gRPC ports. Instances with stores of their
		// own must never be balanced across, or a grade would appear and vanish from one request
		// to the next: only the instances of one store are used.
		in := rt.GroupedInstancer(*gradingName, grading.StoreIDMeta, *transport)
		gradingGroups = in.Groups
		// Ready once the registry has answered where grading is, whatever the answer: the
		// portal serves its 503 page happily, but not for want of having looked.
		rt.SetReady(func(context.Context) error {
			select {
			case <-in.Ready():
				return nil
			default:
				return errors.New("still asking the registry where grading is")
			}
		})
		gradingInstancer = in
	}
	if signIn != nil {
		// /api/v1 takes the token or a session, and checks both itself; pages need a session.
		rt.RoutesCheckToken()
	} else {
		// Only the API needs -token: form posts come from browsers, which cross-origin protection guards.
		rt.TokenOnlyUnder("/api/")
	}
	// Only the API takes JSON: the pages take HTML form posts.
	rt.JSONOnlyUnder("/api/")
	client := gradingclient.NewHTTPClient()
	// Grading and the log service need the token for writes when it is set.
	client.Transport = &httpx.BearerTransport{Token: cfg.Token, Base: client.Transport}
	// Calls to grading are traced, and carry the page's trace along; reads of recent log entries
	// are not: the log service is plumbing, and makes no traces.
	gradingHTTP := &http.Client{Transport: rt.Tracing.Transport(client.Transport)}
	connect := gradingclient.HTTPConnector(gradingHTTP)
	if *transport == "grpc" {
		connect = gradingclient.GRPCConnector(cfg.Token, rt.Tracing.GRPCDialOptions()...)
	}
	// /metrics shows how many instances of each dependency are in use and, for grading, the state
	// of each instance's circuit breakers (metrics.go).
	gradingWatch := watchDependency(*gradingName, *transport, gradingInstancer, gradingMethods)
	logWatch := watchDependency(*logName, "http", rt.Instancer(*logName), nil)
	rt.Metrics.Register(dependencies{gradingWatch, logWatch})
	balancing := gradingclient.DefaultBalancing()
	balancing.OnStateChange = gradingWatch.OnStateChange
	gradingEndpoints, subs := gradingclient.NewBalanced(gradingInstancer, connect, balancing, *gradingName, rt.Logger)
	logs := logclient.NewReader(rt.Instancer(*logName), client, rt.Logger)
	rt.OnClose(func(context.Context) error {
		subs.Close()
		logs.Close()
		gradingWatch.Close()
		logWatch.Close()
		client.CloseIdleConnections()
		return nil
	})
	if err := AddRoutes(rt.Router, Deps{Grading: gradingEndpoints, Registry: rt.Consul, Logs: logs, GradingGroups: gradingGroups, TracingUI: *tracingUI, Logger: rt.Logger, SignIn: signIn, CrossOrigin: rt.CrossOrigin}); err != nil {
		return nil, errors.Join(err, rt.Close())
	}
	return rt, nil
}

// validTracingUI refuses a -tracing-ui that is not an http:// or https:// URL: the links would
// lead nowhere.
func validTracingUI(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-tracing-ui %q: want an http:// or https:// URL", v)
	}
	return nil
}

// loadSignIn reads the users file and the session key, or, with no users file, checks that an
// open portal listens only where nobody else can reach it (unless -open says so on purpose).
func loadSignIn(cfg config.Common, usersFile, keyFile string, ttl time.Duration, open bool) (*SignIn, error) {
	if usersFile == "" {
		if !open && !loopback(cfg.Listen) {
			return nil, fmt.Errorf("-listen %s is reachable from other machines, and without -users anyone who reaches the portal can see and change grades: give -users FILE and -session-key-file FILE, or -open to serve it open anyway", cfg.Listen)
		}
		return nil, nil
	}
	if keyFile == "" {
		return nil, errNoSessionKey
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("-session-ttl %s: want a positive duration", ttl)
	}
	users, err := auth.LoadUsers(usersFile)
	if err != nil {
		return nil, err
	}
	if slices.Contains(users.Names(), APIUser) {
		return nil, fmt.Errorf("users file %s: the name %q is kept for grades entered with the API's token; give that teacher another name", usersFile, APIUser)
	}
	sealer, err := auth.LoadKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	return &SignIn{Users: users, Sealer: sealer, TTL: ttl, Token: cfg.Token}, nil
}

// loopback reports whether listen's host only takes connections from this machine.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
