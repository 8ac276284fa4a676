// Package pb holds the grading service's protobuf messages and gRPC service, generated from
// grading.proto by protoc with the plugin versions go.mod pins as tools, and (convert.go, written
// by hand) their conversions to and from grading's domain types. The generated files must never
// be edited by hand: change grading.proto and run go generate (it needs protoc on the PATH).
package pb
