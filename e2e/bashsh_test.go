//go:build linux

package e2e

import (
	"crypto/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestExecAndCpWhereShIsBash: on Alibaba Cloud Linux, CentOS and RHEL, /bin/sh is bash, whose
// read builtin reads a terminal in blocks. exec (stdin piped, a status, stderr apart) and cp
// (1 MiB up and down) must work there as they do where sh is dash.
func TestExecAndCpWhereShIsBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bashExe, err := filepath.EvalSymlinks(bash)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, emulator.Options{Sh: bash})

	data := make([]byte, 1<<20)
	rand.Read(data)
	want := sha256Hex(data)
	// $PPID is the exec helper's own shell: the command runs as a child of it.
	r := h.run(string(data), "exec", demoInstance, "--", "readlink /proc/$PPID/exe; sha256sum; echo err >&2; exit 3")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 3 || r.stderr != "err\n" || len(lines) != 3 || lines[2] != "" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 3, two lines, err", r.code, r.stdout, r.stderr)
	}
	if lines[0] != bashExe {
		t.Errorf("the exec helper ran under %q, not bash (%q)", lines[0], bashExe)
	}
	if !strings.HasPrefix(lines[1], want+" ") {
		t.Errorf("1 MiB through stdin: remote sha256 %q, want %s", lines[1], want)
	}

	local, remote, down := t.TempDir(), t.TempDir(), t.TempDir()
	want = writeRandom(t, filepath.Join(local, "one.bin"), 1<<20)
	h.mustCopy(local, "one.bin", demoInstance+":"+remote+"/")
	if got := fileSHA(t, filepath.Join(remote, "one.bin")); got != want {
		t.Fatalf("uploaded sha256 %s, want %s", got, want)
	}
	h.mustCopy(down, demoInstance+":"+remote+"/one.bin", ".")
	if got := fileSHA(t, filepath.Join(down, "one.bin")); got != want {
		t.Fatalf("downloaded sha256 %s, want %s", got, want)
	}
}
