package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/grpcserver"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/service"
)

// The grading service's defaults, as the README's table of services gives them.
const (
	DefaultListen     = "127.0.0.1:6000"
	DefaultGRPCListen = "127.0.0.1:6001"
	DefaultName       = "grading"
	// StoreFile is the store's file name under -data.
	StoreFile = "grading.db"
	// checkTimeout bounds the store check behind /health and the gRPC health check: within the
	// health checker's own timeout, so that an unreachable database turns the check critical
	// rather than timing it out.
	checkTimeout = time.Second
)

// The kinds of store, as -store selects them and the registrations say (grading.StoreKindMeta).
const (
	KindBolt     = "bolt"
	KindPostgres = "postgres"
)

// Run runs the grading service until ctx ends. args are the command-line flags (without the
// program name); getenv supplies GRADEBOOK_* defaults. flag.ErrHelp is returned as is.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradingservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config.Common
	cfg.Bind(fs, config.Defaults{Listen: DefaultListen, Name: DefaultName, Data: filepath.Join("data", DefaultName)})
	demo := fs.Bool("demo", true, "seed the five demo students into an empty store")
	grpcListen := fs.String("grpc-listen", DefaultGRPCListen, "`host:port` of the gRPC transport (port 0 picks a free one); advertised on -advertise's host")
	var sf storeFlags
	sf.bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gradingservice [flags]\n\n"+
			"The grading service: students, grades and averages over HTTP+JSON and gRPC, kept in %s\n"+
			"under -data, or in PostgreSQL with -store postgres://... so that several instances share them.\n"+
			"Both endpoints are registered as -name, tagged http and grpc.\n"+
			"Every flag can also be set with GRADEBOOK_<FLAG> (e.g. GRADEBOOK_LISTEN, GRADEBOOK_STORE).\n\nFlags:\n", StoreFile)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if _, _, err := net.SplitHostPort(*grpcListen); err != nil {
		return fmt.Errorf("-grpc-listen %q: want host:port", *grpcListen)
	}
	if err := sf.validate(); err != nil {
		return err
	}

	// Both listeners are bound before anything is registered.
	grpcLn, err := net.Listen("tcp", *grpcListen)
	if err != nil {
		return fmt.Errorf("-grpc-listen %s: %w", *grpcListen, err)
	}
	rt, err := service.New(cfg, stderr, service.WithEnv(getenv))
	if err != nil {
		return errors.Join(err, grpcLn.Close())
	}
	logger := rt.Logger
	// The store is opened before anything is registered (that happens in Serve), so that a bbolt
	// file another process holds, or a database that cannot be reached, fails the start instead
	// of registering an instance that cannot serve. It gets the runtime's logger, so that the
	// migrations it applies, and a database that goes away and comes back, are in the log.
	store, kind, err := sf.open(ctx, cfg.Data, logger, rt.Tracing.Tracer())
	if err != nil {
		return errors.Join(err, grpcLn.Close(), rt.Close())
	}
	rt.OnClose(func(context.Context) error { return store.Close() })
	level.Info(logger).Log("msg", "using the store", "kind", kind, "at", sf.where(cfg.Data), "store_id", store.ID())
	if *demo {
		seeded, err := grading.SeedDemo(ctx, store)
		if err != nil {
			return errors.Join(err, grpcLn.Close(), rt.Close())
		}
		if seeded > 0 {
			level.Info(logger).Log("msg", "seeded the demo students into an empty store", "students", seeded)
		}
	}
	tracer := rt.Tracing.Tracer()
	svc := grading.NewService(traceStore(store, kind, tracer))
	svc = grading.LoggingMiddleware(logger, logx.Enabled(cfg.LogLevel, level.DebugValue()))(svc)
	svc = instrument(rt.Metrics, store)(svc)
	eps := traceEndpoints(grading.MakeServerEndpoints(svc), tracer)
	httpserver.AddRoutes(rt.Router, eps, logger)
	ready := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		return store.Ping(ctx)
	}
	rt.SetReady(ready)
	// Consumers pick a transport by tag: the HTTP registration (the runtime's own) says http,
	// the gRPC one grpc.
	rt.Tag("http")
	// Both registrations say which data they serve: consumers never balance across instances
	// whose stores differ.
	rt.Meta(grading.StoreIDMeta, store.ID())
	rt.Meta(grading.StoreKindMeta, kind)
	self := rt.Registration().ID
	rt.WhenRegistered(func(ctx context.Context) { warnOfOtherStores(ctx, rt, self, store.ID()) })
	// The gRPC listener holds at most -max-conns connections too, counted as listener="grpc".
	serveGRPC(ctx, rt, rt.LimitListener(grpcLn, "grpc"), eps, ready)
	return rt.Serve(ctx)
}

// serveGRPC serves the gRPC transport on ln and registers it as a second instance of the
// service, tagged grpc, until ctx ends or the runtime shuts down. Then it deregisters, reports
// NOT_SERVING, and stops gracefully: in-flight calls get GRPCStopTimeout to finish before the
// rest are cut off. The runtime's shutdown waits for all of it before the store is closed.
func serveGRPC(ctx context.Context, rt *service.Runtime, ln net.Listener, eps grading.Endpoints, ready func(context.Context) error) {
	logger := log.With(rt.Logger, "transport", "grpc")
	// Tracing's options first: its interceptors take the caller's trace into the context before
	// the access log and the request IDs look for it.
	srv := grpc.NewServer(append(rt.Tracing.GRPCServerOptions(), grpcserver.ServerOptions(rt.Config.Token, logger)...)...)
	grpcserver.Register(srv, eps, logger)
	hs := grpcserver.NewHealth(ready)
	healthpb.RegisterHealthServer(srv, hs)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	advertise := grpcAdvertise(rt.Config.Listen, rt.Config.Advertise, ln.Addr().String())
	deregister := rt.AddRegistration(rt.GRPCRegistration(advertise, "grpc"))
	level.Info(rt.Logger).Log("msg", "serving gRPC", "listen", ln.Addr().String(), "advertise", advertise)

	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case err := <-served:
			level.Error(rt.Logger).Log("msg", "the gRPC server stopped serving", "err", err)
		}
		deregister()
		hs.Shutdown()
		graceful := make(chan struct{})
		go func() {
			defer close(graceful)
			srv.GracefulStop()
		}()
		t := time.NewTimer(GRPCStopTimeout)
		defer t.Stop()
		select {
		case <-graceful:
		case <-t.C:
			level.Warn(rt.Logger).Log("msg", "in-flight gRPC calls did not finish in time; cutting them off")
			srv.Stop()
			<-graceful
		}
	}()
	rt.OnClose(func(context.Context) error {
		cancel()
		<-stopped
		return nil
	})
}

// GRPCStopTimeout bounds the graceful stop of the gRPC server.
const GRPCStopTimeout = 5 * time.Second

// grpcAdvertise is the address others dial for gRPC: the gRPC listener's port (the real one
// after port 0) on the host the service advertises. When -advertise was left to follow -listen,
// the gRPC listener's own host is used unless it is a wildcard.
func grpcAdvertise(listen, advertise, bound string) string {
	advHost, _, _ := net.SplitHostPort(advertise)
	listenHost, _, _ := net.SplitHostPort(listen)
	boundHost, port, _ := net.SplitHostPort(bound)
	host := advHost
	if advHost == listenHost {
		if ip := net.ParseIP(boundHost); ip != nil && !ip.IsUnspecified() {
			host = boundHost
		}
	}
	return net.JoinHostPort(host, port)
}
