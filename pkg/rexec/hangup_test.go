//go:build linux

package rexec

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// procsWithArg returns the processes that have arg as one of their arguments.
func procsWithArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// waitUntil polls cond, which only /proc and the file system can answer; it fails after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHangUpStopsTheCommand: when a session ends, the agent hangs up its PTY, which sends
// SIGHUP to the session's processes; the command must stop even when it ignores SIGHUP (or
// SIGTERM as well), and the helper's temporary directory must go, whether the command's stdin
// was still open or had reached end of file.
func TestHangUpStopsTheCommand(t *testing.T) { shells(t, testHangUpStopsTheCommand) }

func testHangUpStopsTheCommand(t *testing.T, env ...string) {
	for _, tc := range []struct {
		name, prefix string
		stdinOpen    bool
		tty          bool
	}{
		{name: "-t, ignores HUP", prefix: `trap "" HUP; `, tty: true},
		{name: "-t, ignores HUP and TERM", prefix: `trap "" HUP TERM; `, tty: true},
		{name: "plain"},
		{name: "plain, stdin open", stdinOpen: true},
		{name: "ignores HUP", prefix: `trap "" HUP; `},
		{name: "ignores HUP, stdin open", prefix: `trap "" HUP; `, stdinOpen: true},
		{name: "ignores HUP and TERM", prefix: `trap "" HUP TERM; `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An argument no other process has, to find this command, and only it, in /proc.
			arg := "600." + strconv.FormatUint(rand.Uint64()%1e12, 10)
			req := Request{Command: tc.prefix + "sleep " + arg, TTY: tc.tty}
			if tc.stdinOpen {
				pr, pw := io.Pipe()
				t.Cleanup(func() { pw.Close() })
				req.Stdin = pr
			}
			e, err := New(req)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			// exec: the bootstrap itself is the session leader, as under the agent.
			cmd := exec.Command("sh", "-c", "exec "+e.CommandLine())
			cmd.Env = append(append(os.Environ(), "SHELL=/bin/sh"), env...)
			ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
			if err != nil {
				t.Fatal(err)
			}
			ptmx = pollable(t, ptmx)
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				ptmx.Close()
				for _, pid := range procsWithArg(arg) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				<-exited
			})
			go func() { _, _ = io.Copy(ptmx, e.Input()) }()
			go func() { _, _ = io.Copy(e.Output(), ptmx) }()

			var pids []int
			waitUntil(t, "the command did not start", func() bool { pids = procsWithArg(arg); return len(pids) > 0 })
			dir := "" // the helper's temporary directory; -t has none
			if !tc.tty {
				errFile, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pids[0]))
				if err != nil || filepath.Base(errFile) != "e" || !strings.HasPrefix(errFile, "/") {
					t.Fatalf("the command's stderr is %q (%v), not the helper's file", errFile, err)
				}
				dir = filepath.Dir(errFile)
			}

			// Hang up as the agent does when the session ends: the process group gets SIGHUP
			// and the terminal goes away. Nothing else will stop the command.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
			ptmx.Close()
			waitUntil(t, "the command still runs after the hang-up", func() bool { return len(procsWithArg(arg)) == 0 })
			if dir != "" {
				waitUntil(t, dir+" is still there after the hang-up", func() bool {
					_, err := os.Lstat(dir)
					return os.IsNotExist(err)
				})
			}
		})
	}
}

// pollable returns the PTY master as a file Go's poller reads, as the emulator's agent does:
// creack/pty leaves it blocking, and a Read blocked on it would keep it open through Close, so
// the terminal would never go away.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx")
}
