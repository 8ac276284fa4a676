package logging

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }
