// Package grpcserver is the server side of grading's gRPC transport: grading.Endpoints served as
// the pb.Grading service (decode, endpoint, encode, as go-kit's gRPC transport server does, but
// without its copy of every call's metadata), with pkg/grpcx's interceptors and error table, and
// the grpc.health.v1 service that registries check. The client side is in grading/gradingclient;
// only the grading process imports this package.
package grpcserver
