//go:build unix

package term

import (
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// interruptSignals are the signals that end a session: Ctrl-C when the terminal is not raw,
// kill's default, and the terminal going away.
var interruptSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP}

// prepareOutput has nothing to do on Unix: the terminal already interprets escape sequences, and
// raw mode on In covers output processing for the same device.
func prepareOutput(*os.File) (undo func() error) { return nil }

// reportResizes has nothing to do on Unix, where window changes come as SIGWINCH.
func reportResizes(uintptr) {}

// stopSelf stops this process with SIGTSTP, as OpenSSH's ~^Z does, and returns once it has been
// continued. Go's runtime takes the signal on its own thread and only then lets it stop the
// process, so kill returns before the stop: without waiting for the SIGCONT that follows it, the
// caller would make the terminal raw again before the shell had it back. The kernel discards
// the signal for a process no job-control shell can continue (an orphaned process group), so
// the wait gives up after a second: a stopped process does not run out that time, as it is
// frozen until continued.
func stopSelf() error {
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, unix.SIGCONT)
	defer signal.Stop(cont)
	if err := unix.Kill(os.Getpid(), unix.SIGTSTP); err != nil {
		return err
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-cont:
	case <-t.C:
	}
	return nil
}
