package rexec

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// remote runs the bootstrap the way the agent does: on a fresh PTY with the kernel's default
// settings (echo, ICANON, ONLCR, ISIG...), and pumps bytes between it and e. No WebSocket is
// involved: this tests the mechanism against a real terminal; e2e tests add the rest. env is
// added to the bootstrap's environment (shells gives the PATH that makes its sh bash).
func remote(t *testing.T, req Request, env ...string) (status int, err error) {
	t.Helper()
	e, err := New(req)
	if err != nil {
		t.Fatal(err)
	}
	// The agent splits CommandLine with shell quoting and executes it directly; sh -c does the
	// same splitting here.
	cmd := exec.Command("sh", "-c", e.CommandLine())
	cmd.Env = append(append(os.Environ(), "SHELL=/bin/sh"), env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); cmd.Process.Kill(); cmd.Wait() })
	go io.Copy(ptmx, e.Input())
	pumped := make(chan struct{})
	go func() { io.Copy(e.Output(), ptmx); close(pumped) }()
	select {
	case <-e.Done():
	case <-pumped:
	case <-time.After(60 * time.Second):
		t.Fatal("no exit status within a minute")
	}
	e.Close()
	return e.Status()
}

// shells runs test with the bootstrap's sh as this system's sh and as bash, which is /bin/sh on
// Alibaba Cloud Linux, CentOS and RHEL: bash's read builtin reads a terminal in blocks, so the
// helper must never read the PTY with it.
func shells(t *testing.T, test func(t *testing.T, env ...string)) {
	t.Run("sh", func(t *testing.T) { test(t) })
	t.Run("bash", func(t *testing.T) {
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Skip("no bash")
		}
		bin := t.TempDir()
		if err := os.Symlink(bash, filepath.Join(bin, "sh")); err != nil {
			t.Fatal(err)
		}
		test(t, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
}

func TestExitStatusPassesThrough(t *testing.T) { shells(t, testExitStatusPassesThrough) }

func testExitStatusPassesThrough(t *testing.T, env ...string) {
	for _, code := range []int{0, 1, 7, 255} {
		var out bytes.Buffer
		st, err := remote(t, Request{Command: "exit " + strconv.Itoa(code), Stdout: &out}, env...)
		if err != nil || st != code {
			t.Errorf("exit %d: got %d, %v", code, st, err)
		}
		if out.Len() != 0 {
			t.Errorf("exit %d: unexpected output %q", code, out.String())
		}
	}
}

func TestStdoutIsByteExact(t *testing.T) { shells(t, testStdoutIsByteExact) }

func testStdoutIsByteExact(t *testing.T, env ...string) {
	var out bytes.Buffer
	if st, err := remote(t, Request{Command: `printf 'a\nb\n'`, Stdout: &out}, env...); err != nil || st != 0 {
		t.Fatalf("%d %v", st, err)
	}
	if out.String() != "a\nb\n" {
		t.Fatalf("got %q, want exactly a\\nb\\n (no echo, no \\r\\n)", out.String())
	}
}

func TestStdinRoundTripIsBinarySafe(t *testing.T) { shells(t, testStdinRoundTripIsBinarySafe) }

func testStdinRoundTripIsBinarySafe(t *testing.T, env ...string) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	var out, errOut bytes.Buffer
	st, err := remote(t, Request{Command: "cat", Stdin: bytes.NewReader(data), Stdout: &out, Stderr: &errOut}, env...)
	if err != nil || st != 0 {
		t.Fatalf("%d %v (stderr %q)", st, err, errOut.String())
	}
	if sha256.Sum256(out.Bytes()) != sha256.Sum256(data) {
		t.Fatalf("1 MiB through stdin and stdout changed: got %d bytes", out.Len())
	}
}

func TestStdinEOFEndsTheCommand(t *testing.T) { shells(t, testStdinEOFEndsTheCommand) }

func testStdinEOFEndsTheCommand(t *testing.T, env ...string) {
	data := []byte("x\x04y\x03z\n\x00\r\n")
	var out bytes.Buffer
	st, err := remote(t, Request{Command: "sha256sum; wc -c </dev/null", Stdin: bytes.NewReader(data), Stdout: &out}, env...)
	if err != nil || st != 0 {
		t.Fatalf("%d %v", st, err)
	}
	sum := sha256.Sum256(data)
	if !strings.HasPrefix(out.String(), hex.EncodeToString(sum[:])) {
		t.Fatalf("remote sha256 %q, want %x", out.String(), sum)
	}
}

func TestStderrIsSeparate(t *testing.T) { shells(t, testStderrIsSeparate) }

func testStderrIsSeparate(t *testing.T, env ...string) {
	var out, errOut bytes.Buffer
	st, err := remote(t, Request{Command: "echo out; echo err >&2; exit 3", Stdout: &out, Stderr: &errOut}, env...)
	if err != nil || st != 3 {
		t.Fatalf("%d %v", st, err)
	}
	if out.String() != "out\n" || errOut.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestCommandLongerThanCommandLine(t *testing.T) { shells(t, testCommandLongerThanCommandLine) }

func testCommandLongerThanCommandLine(t *testing.T, env ...string) {
	long := "echo " + strings.Repeat("x", 2000)
	var out bytes.Buffer
	if st, err := remote(t, Request{Command: long, Stdout: &out}, env...); err != nil || st != 0 {
		t.Fatalf("%d %v", st, err)
	}
	if out.String() != strings.Repeat("x", 2000)+"\n" {
		t.Fatalf("got %d bytes", out.Len())
	}
	if len(Bootstrap) > 512 {
		t.Fatalf("bootstrap is %d characters; the API takes 512", len(Bootstrap))
	}
}

func TestOutputCannotForgeTheTrailer(t *testing.T) { shells(t, testOutputCannotForgeTheTrailer) }

func testOutputCannotForgeTheTrailer(t *testing.T, env ...string) {
	// A fake trailer with a wrong nonce, and a lone trailer start byte at the very end.
	cmd := `printf '\036deadbeefdeadbeefdeadbeefdeadbeef 0 0\n'; printf 'tail\036'; exit 5`
	var out bytes.Buffer
	st, err := remote(t, Request{Command: cmd, Stdout: &out}, env...)
	if err != nil || st != 5 {
		t.Fatalf("%d %v", st, err)
	}
	if want := "\x1edeadbeefdeadbeefdeadbeefdeadbeef 0 0\ntail\x1e"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestTTYMode(t *testing.T) { shells(t, testTTYMode) }

func testTTYMode(t *testing.T, env ...string) {
	var out bytes.Buffer
	st, err := remote(t, Request{Command: "test -t 0 && test -t 1 && printf 'a\\n'; exit 4", TTY: true, Stdout: &out}, env...)
	if err != nil || st != 4 {
		t.Fatalf("%d %v", st, err)
	}
	// On a terminal, \n becomes \r\n: the command ran on the PTY with its own settings back.
	if out.String() != "a\r\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestPartialSuffix(t *testing.T) {
	pat := []byte("\x1eabc ")
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"hello", 0}, {"hello\x1e", 1}, {"x\x1eab", 3}, {"\x1eabc", 4}, {"\x1eabx", 0}, {"\x1e\x1e", 1},
	} {
		if got := partialSuffix([]byte(tc.in), pat); got != tc.want {
			t.Errorf("partialSuffix(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// The trailer may arrive split at any byte: feed a whole exchange one byte at a time.
func TestConsumeByteByByte(t *testing.T) {
	var out, errOut bytes.Buffer
	e, err := New(Request{Command: "x", Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	stream := "junk" + readyMarker + "data\x1e" + "more" + "\x1e" + e.nonce + " 9 3\nERR" + "after"
	for i := 0; i < len(stream); i++ {
		if _, err := e.Output().Write([]byte{stream[i]}); err != nil {
			t.Fatal(err)
		}
	}
	<-e.Done()
	st, err := e.Status()
	if err != nil || st != 9 || out.String() != "data\x1emore" || errOut.String() != "ERR" {
		t.Fatalf("status %d %v, stdout %q, stderr %q", st, err, out.String(), errOut.String())
	}
}
