//go:build linux

package rexec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHangupRightAfterMktemp: the agent hangs up the session at the moment mktemp -d has made
// the script's directory and the script has not yet its name. The directory must still go.
// mktemp is a wrapper on PATH that runs the real one, then hangs up its process group (the
// session's, as remote runs it) before it prints the name: the script receives SIGHUP while it
// waits for the name, every time. TMPDIR is the test's, to see what is left.
func TestHangupRightAfterMktemp(t *testing.T) {
	real, err := exec.LookPath("mktemp")
	if err != nil {
		t.Skip("no mktemp")
	}
	bin, tmp := t.TempDir(), t.TempDir()
	wrapper := "#!/bin/sh\ntrap '' HUP\nr=$(" + quote(real) + " \"$@\") || exit 1\nkill -HUP 0\nprintf '%s\\n' \"$r\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mktemp"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("TMPDIR", tmp)
	// The environment's t is not taken for the directory.
	keep := t.TempDir()
	t.Setenv("t", keep)
	marker := filepath.Join(t.TempDir(), "ran")
	var out, errOut strings.Builder
	st, err := remote(t, Request{Command: "touch " + marker, Stdout: &out, Stderr: &errOut})
	if err == nil && st == 0 {
		t.Errorf("the command finished after a hangup: status %d, stdout %q, stderr %q", st, out.String(), errOut.String())
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
