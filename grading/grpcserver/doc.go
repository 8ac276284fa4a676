// Package grpcserver is the server side of grading's gRPC transport: go-kit's gRPC server over
// grading.Endpoints as the pb.Grading service, with pkg/grpcx's interceptors and error table,
// and the grpc.health.v1 service that registries check. The client side is in
// grading/gradingclient; only the grading process imports this package.
package grpcserver
