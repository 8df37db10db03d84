//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// These tests run `exec --persist` through the built binary: the first command starts a
// background holder (`ecsterm persist serve`, detached) that keeps warm sessions in the
// emulator, and later commands hand theirs to it over its Unix socket in $HOME/.cache.

// holderRecord is a row of `persist ls -o json`.
type holderRecord struct {
	InstanceID string `json:"instance_id"`
	User       string `json:"user"`
	Sessions   int    `json:"sessions"`
	Running    int    `json:"running"`
	PID        int    `json:"pid"`
}

// holders lists the running holders.
func (h *harness) holders(t *testing.T) []holderRecord {
	t.Helper()
	r := h.run("", "-o", "json", "persist", "ls")
	var recs []holderRecord
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &recs) != nil {
		t.Fatalf("persist ls: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	return recs
}

// stopHoldersAtEnd stops every holder when the test ends, before the emulator closes, and
// kills any that did not stop.
func (h *harness) stopHoldersAtEnd(t *testing.T) {
	t.Cleanup(func() {
		var pids []int
		for _, rec := range h.holders(t) {
			pids = append(pids, rec.PID)
		}
		if r := h.run("", "persist", "stop"); r.code != 0 {
			t.Errorf("persist stop: exit %d, %q", r.code, r.stderr)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("holder %d still runs after persist stop", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// alive says whether process pid runs: it exists and is not a zombie (a holder's parent is
// the command that started it, long gone; whoever adopts it may be slow to reap it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself hold ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// hostileBytes are n bytes with every byte value, line ends and the exec trailer's first byte.
func hostileBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return append(b, "\x1e\r\n\x04\x00\xff"...)
}

// Five commands in a row start one session; their outputs and statuses are each exactly a cold
// command's; persist stop ends the session.
func TestPersistFiveInARow(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	for i := range 5 {
		in := hostileBytes(1 + i*20000)
		r := h.run(string(in), "exec", "--persist", "60s", demoInstance, "--", fmt.Sprintf("cat; echo err%d >&2; exit %d", i, i*3))
		if r.code != i*3 || r.stdout != string(in) || r.stderr != fmt.Sprintf("err%d\n", i) {
			t.Fatalf("command %d: exit %d, %d bytes of stdout (want %d, equal %v), stderr %q", i, r.code, len(r.stdout), len(in), r.stdout == string(in), r.stderr)
		}
	}
	if n := h.emu.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("five commands started %d sessions, want 1", n)
	}
	recs := h.holders(t)
	if len(recs) != 1 || recs[0].InstanceID != demoInstance || recs[0].Sessions != 1 {
		t.Fatalf("persist ls: %+v", recs)
	}
	if r := h.run("", "persist", "stop", demoInstance); r.code != 0 {
		t.Fatalf("persist stop: exit %d, %q", r.code, r.stderr)
	}
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); e != s {
		t.Errorf("%d sessions started, %d ended", s, e)
	}
	eventually(t, "a warm session is still connected", func() bool { return h.emu.ConnectedSessions(demoInstance) == 0 })
	if recs := h.holders(t); len(recs) != 0 {
		t.Errorf("after persist stop: %+v", recs)
	}
	eventually(t, "the holder still runs", func() bool { return !alive(recs[0].PID) })
}

// Eight commands at once all succeed, on at most the holder's limit of warm sessions and cold
// ones beside them; then persist stop ends every warm session.
func TestPersistEightAtOnce(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("first command: exit %d, %q", r.code, r.stderr)
	}
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.run(fmt.Sprintf("in%d", i), "exec", "--persist", "60s", demoInstance, "--", fmt.Sprintf("cat; echo ' out%d'; sleep 0.3; exit %d", i, i))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if want := fmt.Sprintf("in%d out%d\n", i, i); r.code != i || r.stdout != want || r.stderr != "" {
			t.Errorf("command %d: exit %d, stdout %q (want %q), stderr %q", i, r.code, r.stdout, want, r.stderr)
		}
	}
	recs := h.holders(t)
	if len(recs) != 1 || recs[0].Sessions < 1 || recs[0].Sessions > 4 {
		t.Fatalf("persist ls: %+v", recs)
	}
	t.Logf("%d sessions started for 9 commands; %d warm", h.emu.Calls("StartTerminalSession"), recs[0].Sessions)
	if r := h.run("", "persist", "stop"); r.code != 0 {
		t.Fatalf("persist stop: exit %d, %q", r.code, r.stderr)
	}
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); e != s {
		t.Errorf("%d sessions started, %d ended", s, e)
	}
	eventually(t, "a session is still connected", func() bool { return h.emu.ConnectedSessions(demoInstance) == 0 })
}

// SIGINT to one warm command stops it on the instance, and nothing else: another command
// running beside it finishes, and the sessions serve the next command.
func TestPersistInterruptEndsOnlyThatCommand(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("first command: exit %d, %q", r.code, r.stderr)
	}
	victim, bystander := sleepArg(t), "2."+strings.TrimPrefix(sleepArg(t), "400.")
	a := h.startBackground("", nil, "exec", "--persist", "60s", demoInstance, "--", "sleep "+victim)
	var out bytes.Buffer
	b := h.command("exec", "--persist", "60s", demoInstance, "--", "sleep "+bystander+"; echo survived")
	b.Stdout = &out
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	remoteRunning(t, victim, 1)
	remoteRunning(t, bystander, 1)
	started := h.emu.Calls("StartTerminalSession")
	if code, took := a.interrupt(t, syscall.SIGINT); code != 130 {
		t.Errorf("interrupted command: exit %d after %v, stderr %q", code, took, a.stderr.String())
	}
	eventually(t, "the interrupted remote sleep still runs", func() bool { return len(procsWithArg(victim)) == 0 })
	if err := b.Wait(); err != nil || out.String() != "survived\n" {
		t.Errorf("the command beside it: %v, %q", err, out.String())
	}
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "echo after"); r.code != 0 || r.stdout != "after\n" {
		t.Errorf("after the interrupt: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if n := h.emu.Calls("StartTerminalSession"); n != started {
		t.Errorf("the interrupt cost a session: %d started before the next command, %d after", started, n)
	}
}

// A holder killed with SIGKILL leaves its socket behind; the next command replaces it with a
// new holder instead of hanging.
func TestPersistKilledHolderIsReplaced(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("first command: exit %d, %q", r.code, r.stderr)
	}
	recs := h.holders(t)
	if len(recs) != 1 {
		t.Fatalf("persist ls: %+v", recs)
	}
	old := recs[0].PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed holder is still there", func() bool { return !alive(old) })
	socks, _ := filepath.Glob(filepath.Join(h.home, ".cache", "ecsterm", "persist", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("the killed holder's socket: %v", socks)
	}
	r := h.run("again", "exec", "--persist", "60s", demoInstance, "--", "cat")
	if r.code != 0 || r.stdout != "again" {
		t.Fatalf("after the kill: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	recs = h.holders(t)
	if len(recs) != 1 || recs[0].PID == old {
		t.Errorf("persist ls after the kill: %+v (old pid %d)", recs, old)
	}
}

// A connection to a holder's socket from another user is refused, even when the socket's
// file mode would let that user connect: the holder checks its peer's uid.
func TestPersistOtherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a command as another user")
	}
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("first command: exit %d, %q", r.code, r.stderr)
	}
	socks, _ := filepath.Glob(filepath.Join(h.home, ".cache", "ecsterm", "persist", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("the holder's socket: %v", socks)
	}
	if fi, err := os.Stat(socks[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the socket's mode: %v %v", fi.Mode(), err)
	}
	const nobody = 65534
	// nobody gets a home of its own whose persist directory holds a link to root's socket,
	// opened to everyone: only the holder's peer check stands in the way.
	pub, err := os.MkdirTemp("", "ecsterm-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	dir := filepath.Join(pub, ".cache", "ecsterm", "persist")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(pub, ".cache"), filepath.Join(pub, ".cache", "ecsterm"), dir} {
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(pub, "ecsterm")
	copyFile(t, binary, bin)
	if err := os.Chmod(socks[0], 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(socks[0], filepath.Join(dir, filepath.Base(socks[0]))); err != nil {
		t.Fatal(err)
	}
	started := h.emu.Calls("StartTerminalSession")
	cmd := h.command("exec", "--persist", "60s", demoInstance, "--", "echo ran")
	cmd.Path = bin
	cmd.Dir = pub
	cmd.Env = append(append([]string(nil), h.env...), "HOME="+pub)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	r := h.runCmd(cmd, "")
	if r.code != 255 || r.stdout != "" || !strings.Contains(r.stderr, "uid 65534 refused") {
		t.Errorf("another user: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := h.emu.Calls("StartTerminalSession"); n != started {
		t.Errorf("another user's command started %d sessions", n-started)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// SIGTERM to the holder ends every session it opened before it exits.
func TestPersistHolderTerminatedEndsSessions(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	if r := h.run("", "exec", "--persist", "60s", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("first command: exit %d, %q", r.code, r.stderr)
	}
	recs := h.holders(t)
	if len(recs) != 1 {
		t.Fatalf("persist ls: %+v", recs)
	}
	if err := syscall.Kill(recs[0].PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the holder still runs after SIGTERM", func() bool { return !alive(recs[0].PID) })
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s != 1 || e != 1 {
		t.Errorf("%d sessions started, %d ended", s, e)
	}
}

// -o json over several instances keeps one holder per instance; the records are a cold run's,
// and a second run starts no session. A stopped instance's command fails as a cold one does.
func TestPersistFanOutJSON(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 2)})
	h.stopHoldersAtEnd(t)
	for run := range 2 {
		r := h.run("", "-o", "json", "exec", "--persist", "60s", "i-emuexec000,i-emuexec001,i-emu0stopped000002", "--", "echo hi; echo err >&2; exit 3")
		if r.code != 255 {
			t.Fatalf("run %d: exit %d, stderr %q", run, r.code, r.stderr)
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
			if rec := got[id]; rec == nil || rec["exit_status"] != 3.0 || rec["stdout"] != "hi\n" || rec["stderr"] != "err\n" || rec["error"] != nil {
				t.Errorf("run %d: %s: %v", run, id, rec)
			}
		}
		if rec := got["i-emu0stopped000002"]; rec == nil || rec["exit_status"] != nil || !strings.Contains(fmt.Sprint(rec["error"]), "Stopped") {
			t.Errorf("run %d: stopped: %v", run, rec)
		}
	}
	started := map[string]int{}
	for _, req := range h.emu.StartRequests() {
		started[req.InstanceID]++
	}
	if started["i-emuexec000"] != 1 || started["i-emuexec001"] != 1 {
		t.Errorf("two runs on two instances started sessions %v, want one on each", started)
	}
}

// cp --persist both ways runs on the warm session: the file comes back byte for byte.
func TestPersistCp(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.stopHoldersAtEnd(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	data := hostileBytes(300 << 10)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(t.TempDir(), "remote.bin") // the emulated instance runs here
	if r := h.run("", "cp", "--persist", "60s", src, demoInstance+":"+remote); r.code != 0 {
		t.Fatalf("upload: exit %d, %q", r.code, r.stderr)
	}
	back := filepath.Join(dir, "back.bin")
	if r := h.run("", "cp", "--persist", "60s", demoInstance+":"+remote, back); r.code != 0 {
		t.Fatalf("download: exit %d, %q", r.code, r.stderr)
	}
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the file came back different (%d bytes of %d, %v)", len(got), len(data), err)
	}
	if n := h.emu.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("two copies started %d sessions, want 1", n)
	}
}
