//go:build ecsterm_faults

package attach

import (
	"os"
	"strconv"
)

// With the ecsterm_faults tag, ECSTERM_FAULTS_CLOCK=N divides the agent's clocks as ecsterm
// plans around them (clock.go) by N, for end-to-end tests against an emulator scaled alike.
func init() {
	if n, err := strconv.Atoi(os.Getenv("ECSTERM_FAULTS_CLOCK")); err == nil && n > 0 {
		clockDiv = n
	}
}
