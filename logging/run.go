package logging

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
)

// Defaults of the log service's flags, as the README lists them.
const (
	DefaultListen = "127.0.0.1:4000"
	DefaultName   = "log"
)

// Run runs the log service until ctx ends. args are the command-line flags (without the program
// name); getenv supplies GRADEBOOK_* defaults. flag.ErrHelp is returned as is.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("logservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: logservice [flags]\n\n"+
			"The gradebook log service: takes the entries every service ships (POST /v1/logs, and the\n"+
			"course's POST /log), appends them as JSON lines to -file, and answers recent ones (GET /v1/logs).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var cfg config.Common
	cfg.Bind(fs, config.Defaults{Listen: DefaultListen, Name: DefaultName, Data: filepath.Join("data", DefaultName)})
	file := fs.String("file", "", "JSON-lines log `file` (default <-data>/gradebook.log)")
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	path := *file
	if path == "" {
		path = filepath.Join(cfg.Data, "gradebook.log")
	}
	store, err := OpenStore(path, DefaultWindow, DefaultWindowBytes)
	if err != nil {
		return err
	}
	// The log service never ships to itself: its own entries go straight into its store.
	rt, err := service.New(cfg, stderr, service.WithoutLogShipping(), service.WithEnv(getenv))
	if err != nil {
		return fmt.Errorf("%w (and closing the log file: %v)", err, store.Close())
	}
	svc := NewService(store, rt.Metrics)
	rt.AddLogSink(skipIngestAccessLogs(svc.Logger(rt.Config.Name, rt.Config.Advertise)), nil)
	rt.OnClose(func(context.Context) error { return store.Close() })
	// While the file cannot be written, /health fails, so that the registry stops sending
	// shippers here. The service's own entries keep trying the file (its failing health checks
	// are logged), and the first write that succeeds makes it healthy again.
	// The answer names the class of failure only, never the file's path.
	rt.SetReady(func(context.Context) error { return storageError(store.Err()) })
	AddRoutes(rt.Router, svc, nil)
	// Shipped batches and the status pages' reads of recent entries make no traces: a trace of
	// every batch would itself be logged, and shipped, and traced.
	rt.UntracedRoutes("/v1/logs", "/log")
	// The course's services send their lines as text/plain; batches are JSON, and must say so.
	rt.NotJSON(http.MethodPost, "/log")
	return rt.Serve(ctx)
}

// skipIngestAccessLogs keeps the access-log lines of successful POST /v1/logs and POST /log out
// of the store: there would be one per stored batch, doubling the file to say only that a batch
// arrived, which the metrics count. They still go to stderr.
func skipIngestAccessLogs(next log.Logger) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		var msg, path any
		status := 0
		for i := 0; i+1 < len(keyvals); i += 2 {
			switch keyvals[i] {
			case "msg":
				msg = keyvals[i+1]
			case "path":
				path = keyvals[i+1]
			case "status":
				status, _ = keyvals[i+1].(int)
			}
		}
		if msg == "request" && (path == "/v1/logs" || path == "/log") && status > 0 && status < 400 {
			return nil
		}
		return next.Log(keyvals...)
	})
}
