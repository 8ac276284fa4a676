// Package server is the grading service as a process: Run parses its flags, opens the store,
// wires grading's service, middleware and endpoints, and serves them through the shared runtime
// over HTTP (grading/httpserver) and gRPC (grading/grpcserver), registering both. Only binaries
// that run grading import it; other services call grading through grading/gradingclient.
package server
