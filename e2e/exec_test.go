//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// fleetOf returns a fleet of n healthy Linux instances (i-emuexec000..) plus the default
// fleet's broken ones, for fan-out tests.
func fleetOf(t *testing.T, n int) *emulator.Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("region: cn-hangzhou\ninstances:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: i-emuexec%03d, name: web-%02d, status: Running, os: Linux, agent: {version: 2.2.3.512, online: true, sessionManager: true}}\n", i, i)
	}
	b.WriteString("  - {id: i-emu0stopped000002, name: demo-stopped, status: Stopped, os: Linux}\n")
	b.WriteString("  - {id: i-emu0windows000006, name: demo-win-01, status: Running, os: Windows, agent: {version: 2.1.3.600, online: true, sessionManager: true}}\n")
	f, err := emulator.ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExecExitStatus(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	for _, code := range []int{0, 1, 7, 255} {
		r := h.run("", "exec", demoInstance, "--", fmt.Sprintf("exit %d", code))
		if r.code != code {
			t.Errorf("remote exit %d: ecsterm exited %d (stderr %q)", code, r.code, r.stderr)
		}
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("remote exit %d: unexpected output %q %q", code, r.stdout, r.stderr)
		}
	}
	// ecsterm's own failure is 255 with one line saying why.
	r := h.run("", "exec", "i-emu0stopped000002", "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "Stopped") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stopped instance: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run("", "exec", "i-emu0windows000006", "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "Windows") || !strings.Contains(r.stderr, "PowerShell") {
		t.Errorf("windows instance: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestExecStdoutExact(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "exec", demoInstance, "--", `printf 'a\nb\n'`)
	if r.code != 0 || r.stdout != "a\nb\n" {
		t.Fatalf("exit %d, stdout %q (want exactly 4 bytes a\\nb\\n), stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run("", "exec", demoInstance, "--", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestExecBinaryBothWays(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	data := make([]byte, 1<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	// Through stdout: the emulated instance is this machine, so a file written here is there.
	src := filepath.Join(t.TempDir(), "random.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "exec", demoInstance, "--", "cat", src)
	if got := sha256.Sum256([]byte(r.stdout)); r.code != 0 || hex.EncodeToString(got[:]) != want {
		t.Fatalf("1 MiB through stdout: exit %d, %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}

	// Through stdin, with end of file: sha256sum and wc -c see exactly the bytes, then finish.
	r = h.run(string(data), "exec", demoInstance, "--", "sha256sum")
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("1 MiB through stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.run(string(data), "exec", demoInstance, "--", "wc -c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "1048576" {
		t.Fatalf("wc -c: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestExecStreams: the first line arrives while the command still runs. The command waits
// for a file that the test creates only after reading that line, so output that waited for
// the command's end would deadlock the test instead of passing it.
func TestExecStreams(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	gate := filepath.Join(t.TempDir(), "go")
	cmd := h.command("exec", demoInstance, "--", fmt.Sprintf("echo first; while [ ! -e %s ]; do sleep 0.02; done; echo second", gate))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(out)
	if line, err := rd.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second line %q, %v", line, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestExecLongCommand(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	word := strings.Repeat("x", 3000)
	r := h.run("", "exec", demoInstance, "--", "echo", word, "|", "wc -c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "3001" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestExecTTY(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 33, 99)
	cmd := h.command("exec", demoInstance, "--", "test -t 0 && stty size && exit 3")
	tm.start(t, cmd)
	err := cmd.Wait()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, screen %q", err, tm.scr.String())
	}
	tm.scr.waitFor(t, 0, "33 99")
}

// TestExecTTYLeavesLaterKeysToTheShell: once the remote command has ended, ecsterm stops reading
// the terminal before it gives it back; a line typed while it is still ending the session
// (EndTerminalSession in flight) stays in the terminal for the user's shell.
func TestExecTTYLeavesLaterKeysToTheShell(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	entered, release := h.emu.Hold("EndTerminalSession")
	defer release()
	cmd := h.command("exec", demoInstance, "--", "true")
	tm.start(t, cmd)
	<-entered // the command is over and the terminal restored; the session is being ended
	tm.typeIn("typed-later\r")
	release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm exec: %v\n%s", err, tm.scr.String())
	}
	fds := []unix.PollFd{{Fd: int32(tm.tty.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n != 1 {
		t.Fatalf("the line typed after the command ended is not in the terminal (poll %d, %v): ecsterm read it", n, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(int(tm.tty.Fd()), buf)
	if err != nil || string(buf[:n]) != "typed-later\n" {
		t.Errorf("the terminal holds %q (%v), want the line typed", buf[:max(n, 0)], err)
	}
}

func TestExecManyTargets(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 11)})
	r := h.run("", "exec", "i-emuexec000,i-emuexec001,i-emuexec002", "--", `echo "hello $((1+1))"`)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines)
	want := []string{"[i-emuexec000] hello 2", "[i-emuexec001] hello 2", "[i-emuexec002] hello 2"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", lines, want)
	}

	// Eleven targets in one call all run, each in a session of its own (one ID per request:
	// the service refuses more than ten).
	var ids []string
	for i := range 11 {
		ids = append(ids, fmt.Sprintf("i-emuexec%03d", i))
	}
	before := h.emu.Calls("StartTerminalSession")
	r = h.run("", "exec", "--no-prefix", strings.Join(ids, ","), "--", "echo ok")
	if r.code != 0 || strings.Count(r.stdout, "ok\n") != 11 {
		t.Fatalf("11 targets: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := h.emu.Calls("StartTerminalSession") - before; got != 11 {
		t.Fatalf("StartTerminalSession called %d times for 11 targets", got)
	}

	// The highest status wins; a target that cannot run makes it 255, and the others still run.
	r = h.run("", "exec", "i-emuexec000,i-emuexec001", "--", `case $HOME in *000) exit 4;; *) exit 1;; esac`)
	if r.code != 4 {
		t.Fatalf("exit %d, want 4 (stderr %q)", r.code, r.stderr)
	}
	r = h.run("", "exec", "i-emuexec000,i-emu0stopped000002", "--", "echo ran")
	if r.code != 255 || !strings.Contains(r.stdout, "[i-emuexec000] ran") || !strings.Contains(r.stderr, "i-emu0stopped000002") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestExecJSON(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 2)})
	r := h.run("", "-o", "json", "exec", "i-emuexec000,i-emuexec001,i-emu0stopped000002", "--", "echo hi; exit 2")
	if r.code != 255 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	got := map[string]map[string]any{}
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, r.stdout)
		}
		got[rec["instance_id"].(string)] = rec
	}
	for _, id := range []string{"i-emuexec000", "i-emuexec001"} {
		if rec := got[id]; rec == nil || rec["exit_status"] != 2.0 || rec["stdout"] != "hi\n" || rec["error"] != nil {
			t.Errorf("%s: %v", id, rec)
		}
	}
	if rec := got["i-emu0stopped000002"]; rec == nil || rec["exit_status"] != nil || !strings.Contains(fmt.Sprint(rec["error"]), "Stopped") {
		t.Errorf("stopped: %v", rec)
	}
}

func TestExecViaRunCommand(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 3)})
	r := h.run("", "exec", "--via", "run-command", "i-emuexec000,i-emuexec001,i-emuexec002", "--", `echo "hello $((1+1))"; exit 6`)
	if r.code != 6 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines)
	if want := "[i-emuexec000] hello 2|[i-emuexec001] hello 2|[i-emuexec002] hello 2"; strings.Join(lines, "|") != want {
		t.Fatalf("got %q", lines)
	}
	if h.emu.Calls("StartTerminalSession") != 0 || h.emu.Calls("RunCommand") != 1 {
		t.Fatalf("calls: %d sessions, %d RunCommand", h.emu.Calls("StartTerminalSession"), h.emu.Calls("RunCommand"))
	}
	var big bytes.Buffer
	r = h.run("", "exec", "--via", "run-command", "i-emuexec000", "--", "head -c 30000 /dev/zero | tr '\\0' x")
	big.WriteString(r.stdout)
	if r.code != 0 || big.Len() != 24576 || !strings.Contains(r.stderr, "cut 5424 bytes") {
		t.Fatalf("truncation: exit %d, %d bytes, stderr %q", r.code, big.Len(), r.stderr)
	}
}

// TestExecPacedNotice: stdin held back by the service's bandwidth limit is said once on stderr
// (stdout stays the command's), and -q keeps it quiet.
func TestExecPacedNotice(t *testing.T) {
	h := newHarness(t, emulator.Options{StreamRate: 800_000}) // about 98 KiB/s
	in, _ := randomBytes(256 << 10)                           // over two seconds of input
	r := h.run(string(in), "exec", "-T", demoInstance, "--", "wc", "-c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "262144" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "uploads are paced to it") != 1 || !strings.Contains(r.stderr, "781 Kibit/s") {
		t.Errorf("stderr %q, want the pacing notice once", r.stderr)
	}
	r = h.run(string(in), "-q", "exec", "-T", demoInstance, "--", "wc", "-c")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("with -q: exit %d, stderr %q, want nothing on stderr", r.code, r.stderr)
	}
}
