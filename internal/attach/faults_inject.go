//go:build ecsterm_faults && unix

package attach

import (
	"os"
	"os/signal"
	"syscall"
)

// With the ecsterm_faults tag, SIGUSR1 during an interactive session panics in a goroutine of
// its own: the process dies without unwinding the session's goroutine, so TTY.Safe's deferred
// restore never runs and only the watcher process (internal/ttyguard) can put the terminal back.
func init() {
	injectFaults = func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		go func() {
			<-sig
			panic("ecsterm_faults: panic injected in a goroutine by SIGUSR1")
		}()
	}
}
