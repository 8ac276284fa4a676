// Command logservice runs gradebook's central log service.
package main

import (
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/service"
)

func main() { service.Main("logservice", logging.Run) }
