//go:build unix

package term

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// consoleInput has no reader of input records to offer on Unix: window changes come as SIGWINCH.
func consoleInput(*os.File) *consoleReader { return nil }

// pollableInput returns f's terminal opened again, non-blocking, for Go's network poller to
// read; nil where it cannot (no /proc, or not the same terminal).
//
// Reading stdin itself is a blocking system call on its own thread, and every such call wakes
// Go's system monitor, which then runs a few rounds of 20 µs sleeps: a dozen context switches
// for every keystroke on a machine with two cores, against two or three through the poller
// (strace of an echo session). f itself cannot be made non-blocking: the flag belongs to the
// open file, which the shell that started ecsterm shares, and would stay set if ecsterm were
// killed. A second open of the same terminal has flags of its own. Closing it also ends a read
// in progress, which a read of f cannot do.
func pollableInput(f *os.File) *os.File {
	var st, again unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if unix.Fstat(fd, &again) != nil || again.Rdev != st.Rdev {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), f.Name()) // non-blocking: os registers it with the poller
}
