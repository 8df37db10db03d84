package term

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pollableInput returns f's terminal opened again, non-blocking, for Go's network poller to
// read; nil where it cannot: f is not a terminal, or is a pseudo-terminal's master side (a new
// open of /dev/ptmx would make a new pseudo-terminal), or the open fails or reaches another
// device.
//
// Reading stdin itself is a blocking system call on its own thread, and every such call wakes
// Go's system monitor, which then runs a few rounds of 20 µs sleeps: a dozen context switches
// for every keystroke on a machine with two cores, against two or three through the poller
// (strace of an echo session). f itself cannot be made non-blocking: the flag belongs to the
// open file, which the shell that started ecsterm shares, and would stay set if ecsterm were
// killed. A second open of the same terminal has flags of its own. Closing it also ends a read
// in progress, which a read of f cannot do. Only Linux is known to reopen a terminal through
// /proc/self/fd; elsewhere f is read as it is.
func pollableInput(f *os.File) *os.File {
	var path string
	var st unix.Stat_t
	err := withFd(f, func(fd uintptr) error {
		if _, err := unix.IoctlGetTermios(int(fd), unix.TCGETS); err != nil {
			return err // not a terminal
		}
		if _, err := unix.IoctlGetInt(int(fd), unix.TIOCGPTN); err == nil {
			return unix.ENOTTY // a master side answers TIOCGPTN; a terminal's side does not
		}
		path = "/proc/self/fd/" + strconv.Itoa(int(fd))
		return unix.Fstat(int(fd), &st)
	})
	if err != nil {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var again unix.Stat_t
	if unix.Fstat(fd, &again) != nil || again.Rdev != st.Rdev || again.Ino != st.Ino {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), f.Name()) // non-blocking: os registers it with the poller
}
