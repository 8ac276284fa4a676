package testkit

import "go.uber.org/goleak"

// LeakOptions are the goleak options for packages whose services discover their dependencies.
// There are none today: every Instancer cancels its query and ends its loop when stopped. This is
// the one place to add an exception, with its reason, should a library's goroutine ever need one.
func LeakOptions() []goleak.Option { return nil }
