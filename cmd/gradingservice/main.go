// Command gradingservice runs the grading service: students, grades and averages over
// HTTP+JSON, stored in an embedded file store under -data. Run with -h for its flags.
package main

import (
	"github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/pkg/service"
)

func main() { service.Main("gradingservice", server.Run) }
