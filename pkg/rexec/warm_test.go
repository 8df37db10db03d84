//go:build linux

package rexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// warmRemote is a warm session as the agent runs it: WarmBootstrap exec'd as the session leader
// of a fresh PTY with the kernel's default settings, its input and output pumped to a Warm.
type warmRemote struct {
	w      *Warm
	cmd    *exec.Cmd
	ptmx   *os.File
	exited chan struct{} // the bootstrap's process has been reaped
	pumped chan struct{} // the output pump has ended
}

// startWarm starts a warm session; env is added to the bootstrap's environment.
func startWarm(t testing.TB, grace int, env ...string) *warmRemote {
	t.Helper()
	w, err := NewWarm()
	if err != nil {
		t.Fatal(err)
	}
	w.grace = grace
	cmd := exec.Command("sh", "-c", "exec "+w.CommandLine())
	cmd.Env = append(append(os.Environ(), "SHELL=/bin/sh"), env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	r := &warmRemote{w: w, cmd: cmd, ptmx: pollableTB(t, ptmx), exited: make(chan struct{}), pumped: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	go func() { _, _ = io.Copy(r.ptmx, w.Input()) }()
	go func() {
		_, _ = io.Copy(w.Output(), r.ptmx)
		w.Close() // as the session's owner does when the session ends
		close(r.pumped)
	}()
	t.Cleanup(func() {
		r.hangUp()
		w.Close()
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			// As the emulator's agent does with a session process that outlives its hang-up.
			t.Error("the warm loop did not exit within 30 s of the hang-up")
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.exited
		}
		<-r.pumped
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// hangUp ends the session as the agent does: SIGHUP to its process group, the terminal closed.
func (r *warmRemote) hangUp() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGHUP)
	r.ptmx.Close()
}

// run runs req with a bounded wait, as a failsafe.
func (r *warmRemote) run(t testing.TB, req Request) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.w.Run(ctx, req)
}

// TestWarmFiveCommandsInARow: one warm session runs command after command, each with
// byte-exact binary stdin and stdout (1 MiB among them), stdin's end of file, stdin the command
// never reads, stderr apart and its own exit status.
func TestWarmFiveCommandsInARow(t *testing.T) {
	shells(t, testWarmFiveCommandsInARow)
}

func testWarmFiveCommandsInARow(t *testing.T, env ...string) {
	r := startWarm(t, 1, env...)
	var shell bytes.Buffer
	if st, err := r.run(t, Request{Command: "readlink /proc/$PPID/exe", Stdout: &shell}); err != nil || st != 0 {
		t.Fatalf("status %d, %v", st, err)
	}
	t.Logf("the loop's shell: %q", shell.String())
	big := make([]byte, 1<<20)
	rand.Read(big)
	small := []byte("x\x04y\x03z\n\x00\r\n\x1e0\n")
	unread := bytes.Repeat([]byte("0\n12\n\x1e"), 50000) // looks like frames; never read

	for i, tc := range []struct {
		name, command string
		stdin         []byte
		status        int
		stdout        []byte
		stderr        string
	}{
		{name: "1 MiB through cat", command: "cat", stdin: big, stdout: big},
		{name: "stdin not read", command: "echo out; echo err >&2; exit 3", stdin: unread, status: 3, stdout: []byte("out\n"), stderr: "err\n"},
		{name: "binary stdin, EOF", command: "cat; echo; echo done", stdin: small, stdout: append(append([]byte(nil), small...), "\ndone\n"...)},
		{name: "no stdin", command: "printf 'a\\nb\\n'; exit 255", status: 255, stdout: []byte("a\nb\n")},
		{name: "stdin not read, no EOF wait", command: "head -c 3; exit 7", stdin: unread, status: 7, stdout: unread[:3]},
	} {
		var out, errOut bytes.Buffer
		req := Request{Command: tc.command, Stdout: &out, Stderr: &errOut}
		if tc.stdin != nil {
			req.Stdin = bytes.NewReader(tc.stdin)
		}
		st, err := r.run(t, req)
		if err != nil || st != tc.status {
			t.Fatalf("%d %s: status %d, %v (stderr %q)", i, tc.name, st, err, errOut.String())
		}
		if !bytes.Equal(out.Bytes(), tc.stdout) {
			t.Errorf("%d %s: stdout %d bytes (sha %x), want %d", i, tc.name, out.Len(), sha256.Sum256(out.Bytes()), len(tc.stdout))
		}
		if errOut.String() != tc.stderr {
			t.Errorf("%d %s: stderr %q, want %q", i, tc.name, errOut.String(), tc.stderr)
		}
	}
	select {
	case <-r.w.Broken():
		t.Fatalf("broken: %v", r.w.Err())
	default:
	}
}

func TestWarmBootstrapFitsCommandLine(t *testing.T) {
	if len(WarmBootstrap) > 512 {
		t.Fatalf("WarmBootstrap is %d characters; the API takes 512", len(WarmBootstrap))
	}
	if strings.Contains(WarmBootstrap, "\n") {
		t.Fatal("WarmBootstrap has a newline")
	}
}

// TestWarmLoopEndsOnAMalformedLength: the loop ends (and with it the session) when what it
// reads for a script's length is not eight digits, rather than evaluate what follows.
func TestWarmLoopEndsOnAMalformedLength(t *testing.T) {
	r := startWarm(t, 1)
	if _, err := r.ptmx.Write([]byte("0000001x\necho hi\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the loop still runs")
	}
	if st := r.cmd.ProcessState.ExitCode(); st != 96 {
		t.Fatalf("the loop's exit status is %d, want 96", st)
	}
}

// pollableTB is pollable for tests and benchmarks alike.
func pollableTB(tb testing.TB, f *os.File) *os.File {
	tb.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		tb.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx")
}

// BenchmarkWarmTrue measures one warm command, `true`, from Run to its status, on a local PTY:
// the remote side's cost per command without any network.
func BenchmarkWarmTrue(b *testing.B) {
	r := startWarm(b, 1)
	for b.Loop() {
		if st, err := r.run(b, Request{Command: "true"}); err != nil || st != 0 {
			b.Fatalf("status %d, %v", st, err)
		}
	}
}
