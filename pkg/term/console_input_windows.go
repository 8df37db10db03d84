//go:build windows

package term

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// procReadConsoleInputW is kernel32's ReadConsoleInputW, which golang.org/x/sys/windows does not
// wrap.
var procReadConsoleInputW = windows.NewLazySystemDLL("kernel32.dll").NewProc("ReadConsoleInputW")

// consoleResizes links this process's console input reader to its size watchers. It is the one
// package-level hub because what it stands for is one per process too: a process has at most one
// console, with one input queue, and the reader and the watchers are asked for separately (a
// session's input, and the sizes of its output).
var consoleResizes resizeHub

// The event types in console_input.go must be Windows' own. A compile error here ("invalid array
// index") means they are not.
func _() {
	var x [1]struct{}
	_ = x[keyEvent-windows.KEY_EVENT]
	_ = x[windowBufferSizeEvent-windows.WINDOW_BUFFER_SIZE_EVENT]
	_ = x[vkMenu-windows.VK_MENU]
	_ = x[unsafe.Sizeof(inputRecord{})-20]
}

// consoleInput returns a record reader for f when f is a console input handle, and nil otherwise
// (a pipe, a file, a console output handle), which leaves f to be read as it is.
func consoleInput(f *os.File) *consoleReader {
	if !isConsoleInput(f) || procReadConsoleInputW.Find() != nil {
		return nil
	}
	return newConsoleReader(func(recs []inputRecord) (n int, err error) {
		// Through withFd, as os.File's own Read would, so f cannot be closed under the call;
		// like that Read, a Close waits for the call to return.
		err = withFd(f, func(fd uintptr) error {
			var rerr error
			n, rerr = readConsoleInput(windows.Handle(fd), recs)
			return rerr
		})
		if err != nil {
			return 0, fmt.Errorf("read console input: %w", err)
		}
		return n, nil
	}, &consoleResizes)
}

// isConsoleInput reports whether f is a console input handle. GetConsoleMode alone would also
// accept a console screen buffer, which has no input records to read.
func isConsoleInput(f *os.File) bool {
	err := withFd(f, func(fd uintptr) error {
		var n uint32
		return windows.GetNumberOfConsoleInputEvents(windows.Handle(fd), &n)
	})
	return err == nil
}

// readConsoleInput fills recs with at least one record, waiting for one if there is none yet.
func readConsoleInput(h windows.Handle, recs []inputRecord) (int, error) {
	var n uint32
	r1, _, e1 := syscall.SyscallN(procReadConsoleInputW.Addr(),
		uintptr(h), uintptr(unsafe.Pointer(&recs[0])), uintptr(len(recs)), uintptr(unsafe.Pointer(&n)))
	if r1 == 0 {
		if e1 != 0 {
			return 0, e1
		}
		return 0, syscall.EINVAL
	}
	return int(n), nil
}

// pollableInput: a Windows console is read through its input records (consoleInput).
func pollableInput(*os.File) *os.File { return nil }
