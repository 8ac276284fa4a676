// Package grpcx holds the gRPC conventions every gradebook gRPC transport follows, the gRPC twin
// of pkg/httpx and built on its helpers: request IDs in metadata, the -token check on writes,
// panic recovery and an access log as interceptors, the 1 MiB request limit, requests that do
// not decode answered INVALID_ARGUMENT, and the one table that maps error kinds (pkg/errs) to
// status codes and back. It must never know about any one service.
package grpcx
