// Package pb holds the grading service's protobuf messages and gRPC service, generated from
// grading.proto by protoc with the plugin versions go.mod pins as tools. The generated files must
// never be edited by hand: change grading.proto and run go generate (it needs protoc on the PATH).
package pb
