package testkit

import "go.uber.org/goleak"

// LeakOptions are the goleak options for packages whose services discover their dependencies.
// go-kit's sd/consul Instancer backs off with an uninterruptible time.Sleep (up to a minute)
// after a failed query, so a stopped Instancer whose registry was unreachable ends only when
// that sleep does; it then sees it was stopped and returns. That goroutine is not a leak.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/go-kit/kit/sd/consul.(*Instancer).loop")}
}
