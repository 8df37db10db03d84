package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names a file for a CPU profile of the whole run: a debugging aid for performance
// work (docs/PERFORMANCE.md), deliberately not a flag. `go tool pprof ecsterm FILE` reads it.
const profileEnv = "ECSTERM_CPUPROFILE"

// startProfile starts the CPU profile that profileEnv asks for and returns what ends it; without
// the variable it does nothing.
func startProfile() (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ecsterm: %s: %v\n", profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
