package grading

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
)

// Defaults of DESIGN.md.
const (
	DefaultListen     = "127.0.0.1:6000"
	DefaultGRPCListen = "127.0.0.1:6001"
	DefaultName       = "grading"
	// StoreFile is the store's file name under -data.
	StoreFile = "grading.db"
)

// Run runs the grading service until ctx ends. args are the command-line flags (without the
// program name); getenv supplies GRADEBOOK_* defaults. flag.ErrHelp is returned as is.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradingservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config.Common
	cfg.Bind(fs, config.Defaults{Listen: DefaultListen, Name: DefaultName, Data: filepath.Join("data", DefaultName)})
	demo := fs.Bool("demo", true, "seed the five demo students into an empty store")
	grpcListen := fs.String("grpc-listen", DefaultGRPCListen, "`host:port` reserved for the gRPC transport; accepted and checked, not opened yet")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gradingservice [flags]\n\n"+
			"The grading service: students, grades and averages over HTTP+JSON, kept in %s under -data.\n"+
			"Every flag can also be set with GRADEBOOK_<FLAG> (e.g. GRADEBOOK_LISTEN).\n\nFlags:\n", StoreFile)
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

	// The store is opened before the listener is bound so that a store another process holds
	// fails the start before anything is registered.
	store, err := OpenBoltStore(filepath.Join(cfg.Data, StoreFile))
	if err != nil {
		return err
	}
	var seeded int
	if *demo {
		if seeded, err = SeedDemo(ctx, store); err != nil {
			return errors.Join(err, store.Close())
		}
	}
	rt, err := service.New(cfg, stderr)
	if err != nil {
		return errors.Join(err, store.Close())
	}
	rt.OnClose(func(context.Context) error { return store.Close() })
	logging.Attach(rt, stderr)
	logger := rt.Logger

	if seeded > 0 {
		level.Info(logger).Log("msg", "seeded the demo students into an empty store", "students", seeded)
	}
	level.Debug(logger).Log("msg", "gRPC transport not built yet; -grpc-listen is reserved", "grpc_listen", *grpcListen)

	var svc Service = NewService(store)
	svc = LoggingMiddleware(logger)(svc)
	svc = InstrumentingMiddleware(rt.Metrics)(svc)
	RegisterGauges(rt.Metrics, store)
	AddHTTPRoutes(rt.Router, MakeServerEndpoints(svc), logger)
	rt.SetReady(func() error {
		cctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		return store.Check(cctx)
	})
	return rt.Serve(ctx)
}
