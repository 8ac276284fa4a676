package logging

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-kit's sd/consul Instancer sleeps out its backoff before it sees it was stopped (see
	// testkit.LeakOptions, which this package cannot import: registry imports logging).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/go-kit/kit/sd/consul.(*Instancer).loop"))
}
