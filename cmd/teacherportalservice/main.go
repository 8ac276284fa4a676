// Command teacherportalservice runs the teacher portal: the web pages a teacher uses and the
// /api/v1 gateway, in front of the grading instances found through the registry.
package main

import (
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/portal"
)

func main() { service.Main("teacherportalservice", portal.Run) }
