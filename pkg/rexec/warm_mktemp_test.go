//go:build linux

package rexec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWarmNoTempDirNoCommand: when mktemp -d fails the command does not run, the answer is
// status 255 with a message, stdin sent for it is skipped, and the session goes on.
func TestWarmNoTempDirNoCommand(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "mktemp"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startWarm(t, 1, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	marker := filepath.Join(t.TempDir(), "ran")
	for i := range 2 {
		var out, errOut strings.Builder
		st, err := r.run(t, Request{Command: "touch " + marker, Stdin: bytes.NewReader(bytes.Repeat([]byte("12\n0\n"), 20000)), Stdout: &out, Stderr: &errOut})
		if err != nil || st != 255 || errOut.String() != noTempDir || out.Len() != 0 {
			t.Errorf("%d: status %d, %v, stdout %q, stderr %q; want 255 and %q", i, st, err, out.String(), errOut.String(), noTempDir)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran without a private temporary directory")
	}
}

// TestWarmHangupRightAfterMktemp: the session is hung up at the moment mktemp -d has made the
// command's directory and the loop has not yet its name. The directory must still go, and the
// command must not run. The mktemp on PATH runs the real one, then hangs up the session's
// process group (its fifth field in /proc/self/stat is the session, whose leader is the loop)
// before it prints the name.
func TestWarmHangupRightAfterMktemp(t *testing.T) {
	real, err := exec.LookPath("mktemp")
	if err != nil {
		t.Skip("no mktemp")
	}
	bin, tmp := t.TempDir(), t.TempDir()
	wrapper := "#!/bin/sh\ntrap '' HUP\nr=$(" + quote(real) + " \"$@\") || exit 1\n" +
		"read -r _ _ _ _ _ sid _ </proc/$$/stat\nkill -HUP -$sid\nprintf '%s\\n' \"$r\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mktemp"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	keep := t.TempDir()
	r := startWarm(t, 1, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TMPDIR="+tmp, "t="+keep)
	marker := filepath.Join(t.TempDir(), "ran")
	st, err := r.w.Run(t.Context(), Request{Command: "touch " + marker})
	if err == nil {
		t.Errorf("the command finished after a hangup: status %d", st)
	}
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the warm loop did not exit after the hang-up")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran after a hangup")
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s is left in TMPDIR after a hangup right after mktemp -d", e.Name())
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory named by the environment's t is gone: %v", err)
	}
}
