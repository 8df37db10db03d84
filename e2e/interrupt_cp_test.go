//go:build linux

package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// partial waits until dir holds a temporary of cp's (a name starting with ".ecsterm":
// ".ecsterm-*.part" locally, ".ecsterm.XXXXXX" on the instance) with data in it, a file or a
// file somewhere in a directory: the copy is under way, past its start.
func partial(t *testing.T, dir string) {
	t.Helper()
	eventually(t, "no partial file with data in "+dir+": the copy did not start", func() bool {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".ecsterm") && hasData(filepath.Join(dir, e.Name())) {
				return true
			}
		}
		return false
	})
}

// hasData reports whether path is a non-empty file or a directory holding one.
func hasData(path string) bool {
	found := false
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 {
				found = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return found
}

// checkCpLeftNothing checks the sessions as checkNothingLeft does, and that each directory
// holds exactly the names it held before the copy.
func (h *harness) checkCpLeftNothing(t *testing.T, dirs map[string][]string) {
	t.Helper()
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s == 0 || e != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, e)
	}
	eventually(t, "a session is still connected", func() bool { return h.emu.ConnectedSessions(demoInstance) == 0 })
	for dir, want := range dirs {
		// The instance's side is cleaned up by its script as the session ends, after ecsterm
		// has exited: wait for it, within bounds.
		deadline := time.Now().Add(interruptWait)
		for {
			got := listDir(t, dir)
			if strings.Join(got, "/") == strings.Join(want, "/") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s holds %q after the interrupted copy, want %q", dir, got, want)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cpRate paces the gateway's stream (bits per second) so that a copy of cpSize bytes is still
// under way when the test interrupts it: about half a minute.
const (
	cpRate = 2_000_000
	cpSize = 8 << 20
)

// TestInterruptCp: SIGINT to an upload and SIGTERM to a download, mid-transfer, end the session
// and leave no partial file on either side; the exit status is 128+n.
func TestInterruptCp(t *testing.T) {
	t.Run("upload INT", func(t *testing.T) {
		h := newHarness(t, emulator.Options{StreamRate: cpRate})
		local, remote := t.TempDir(), t.TempDir()
		writeRandom(t, filepath.Join(local, "big.bin"), cpSize)
		b := h.startBackground(local, nil, "cp", "big.bin", demoInstance+":"+remote+"/")
		partial(t, remote)
		code, took := b.interrupt(t, syscall.SIGINT)
		t.Logf("exited %d, %v after SIGINT", code, took)
		if code != 130 {
			t.Errorf("exit status %d, want 130; stderr %q", code, b.stderr.String())
		}
		h.checkCpLeftNothing(t, map[string][]string{local: {"big.bin"}, remote: nil})
	})
	t.Run("download TERM", func(t *testing.T) {
		h := newHarness(t, emulator.Options{StreamRate: cpRate})
		local, remote := t.TempDir(), t.TempDir()
		writeRandom(t, filepath.Join(remote, "big.bin"), cpSize)
		b := h.startBackground(local, nil, "cp", demoInstance+":"+remote+"/big.bin", ".")
		partial(t, local)
		code, took := b.interrupt(t, syscall.SIGTERM)
		t.Logf("exited %d, %v after SIGTERM", code, took)
		if code != 143 {
			t.Errorf("exit status %d, want 143; stderr %q", code, b.stderr.String())
		}
		h.checkCpLeftNothing(t, map[string][]string{local: nil, remote: {"big.bin"}})
	})
	t.Run("upload tree on a terminal, Ctrl-C", func(t *testing.T) {
		h := newHarness(t, emulator.Options{StreamRate: cpRate})
		local, remote := t.TempDir(), t.TempDir()
		if err := os.Mkdir(filepath.Join(local, "tree"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeRandom(t, filepath.Join(local, "tree", "big.bin"), cpSize)
		tm := newTerminal(t, 24, 80)
		cmd := h.command("cp", "-r", "tree", demoInstance+":"+remote+"/")
		cmd.Dir = local
		tm.start(t, cmd)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		partial(t, remote)
		tm.typeIn("\x03")
		tm.exitAfter(t, cmd, done, "Ctrl-C", 130)
		h.checkCpLeftNothing(t, map[string][]string{local: {"tree"}, remote: nil})
	})
}
