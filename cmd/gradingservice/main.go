// Command gradingservice runs the grading service: students, grades and averages over HTTP+JSON
// and gRPC, stored in an embedded file store under -data, or in PostgreSQL (-store postgres://...)
// shared by any number of instances. Run with -h for its flags.
package main

import (
	"github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/pkg/service"
)

func main() { service.Main("gradingservice", server.Run) }
