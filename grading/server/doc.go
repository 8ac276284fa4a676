// Package server is the grading service as a process: Run parses its flags, opens the store that
// -store selects (a bbolt file under -data, or a PostgreSQL database that several instances
// share), wires grading's service, middleware and endpoints, and serves them through the shared
// runtime over HTTP (grading/httpserver) and gRPC (grading/grpcserver), registering both with the
// store's kind and ID. Only binaries that run grading import it; other services call grading
// through grading/gradingclient. It must never print a database password.
package server
