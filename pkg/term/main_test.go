package term

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// A child started by a test: run only the helper, and without goleak, which would report
		// the goroutines of a process that is meant to die mid-flight.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// helperEnv marks a child process started by a test to play one part.
const helperEnv = "ECSTERM_TERM_TEST_HELPER"
