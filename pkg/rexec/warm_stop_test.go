//go:build linux

package rexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// signalWriter collects output and closes seen once it holds want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, seen: make(chan struct{})}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if strings.Contains(s.buf.String(), s.want) {
		s.once.Do(func() { close(s.seen) })
	}
	return len(p), nil
}

func (s *signalWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// uniqueArg is an argument no other process has, to find a command, and only it, in /proc.
func uniqueArg() string { return "600." + strconv.FormatUint(rand.Uint64()%1e12, 10) }

// TestWarmInterruptStopsOnlyTheCommand: cancelling Run's context stops the command's process
// group on the instance (SIGTERM; SIGKILL after the grace for one that ignores SIGTERM), Run
// returns the status the remote reports with the context's error, and the warm session runs
// the next command.
func TestWarmInterruptStopsOnlyTheCommand(t *testing.T) {
	shells(t, testWarmInterruptStopsOnlyTheCommand)
}

func testWarmInterruptStopsOnlyTheCommand(t *testing.T, env ...string) {
	r := startWarm(t, 1, env...)
	for _, tc := range []struct {
		name, command string
		stdinOpen     bool
		status        int
		stdout        string
	}{
		{name: "ends on TERM", command: "echo started; exec sleep %s", status: 143, stdout: "started\n"},
		{name: "cleans up on TERM", command: "trap 'echo cleanup; exit 5' TERM; echo started; sleep %s & wait", status: 5, stdout: "started\ncleanup\n"},
		{name: "ignores TERM, stdin open", command: "trap '' TERM; echo started; sleep %s", stdinOpen: true, status: 137, stdout: "started\n"},
		{name: "ignores TERM, child in background", command: "trap '' TERM; sleep %s & echo started; wait", status: 137, stdout: "started\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arg := uniqueArg()
			out := newSignalWriter("started\n")
			req := Request{Command: fmt.Sprintf(tc.command, arg), Stdout: out}
			if tc.stdinOpen {
				pr, pw := io.Pipe()
				defer pw.Close()
				req.Stdin = pr
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				st  int
				err error
			}
			res := make(chan result, 1)
			go func() { st, err := r.w.Run(ctx, req); res <- result{st, err} }()
			select {
			case <-out.seen:
			case <-time.After(30 * time.Second):
				t.Fatalf("the command did not start; output %q", out.String())
			}
			waitUntil(t, "the command's sleep did not start", func() bool { return len(procsWithArg(arg)) > 0 })
			cancel()
			var got result
			select {
			case got = <-res:
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return after the interrupt")
			}
			if got.st != tc.status || !errors.Is(got.err, context.Canceled) {
				t.Errorf("status %d, %v; want %d and context.Canceled", got.st, got.err, tc.status)
			}
			if out.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
			waitUntil(t, "the command's sleep still runs after the interrupt", func() bool { return len(procsWithArg(arg)) == 0 })

			var next bytes.Buffer
			if st, err := r.run(t, Request{Command: "echo next", Stdout: &next}); err != nil || st != 0 || next.String() != "next\n" {
				t.Fatalf("the next command: status %d, %v, stdout %q", st, err, next.String())
			}
		})
	}
}

// TestWarmHangUpStopsTheCommand: when the session ends during a command, the command stops
// even when it ignores SIGHUP and SIGTERM, its directory goes, and the loop exits.
func TestWarmHangUpStopsTheCommand(t *testing.T) {
	shells(t, testWarmHangUpStopsTheCommand)
}

func testWarmHangUpStopsTheCommand(t *testing.T, env ...string) {
	for _, tc := range []struct {
		name, prefix string
		stdinOpen    bool
	}{
		{name: "plain"},
		{name: "plain, stdin open", stdinOpen: true},
		{name: "ignores HUP, stdin open", prefix: `trap "" HUP; `, stdinOpen: true},
		{name: "ignores HUP and TERM", prefix: `trap "" HUP TERM; `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startWarm(t, 1, env...)
			arg := uniqueArg()
			req := Request{Command: tc.prefix + "sleep " + arg}
			if tc.stdinOpen {
				pr, pw := io.Pipe()
				defer pw.Close()
				req.Stdin = pr
			}
			ran := make(chan error, 1)
			go func() { _, err := r.w.Run(context.Background(), req); ran <- err }()
			var pids []int
			waitUntil(t, "the command did not start", func() bool { pids = procsWithArg(arg); return len(pids) > 0 })
			errFile, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pids[0]))
			if err != nil || filepath.Base(errFile) != "e" || !strings.HasPrefix(errFile, "/") {
				t.Fatalf("the command's stderr is %q (%v), not the helper's file", errFile, err)
			}
			dir := filepath.Dir(errFile)

			r.hangUp()
			if err := <-ran; err == nil {
				t.Error("Run returned no error after the session ended")
			}
			waitUntil(t, "the command still runs after the hang-up", func() bool { return len(procsWithArg(arg)) == 0 })
			waitUntil(t, dir+" is still there after the hang-up", func() bool {
				_, err := os.Lstat(dir)
				return os.IsNotExist(err)
			})
			select {
			case <-r.exited:
			case <-time.After(30 * time.Second):
				t.Fatal("the warm loop did not exit after the hang-up")
			}
		})
	}
}
