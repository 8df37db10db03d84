//go:build linux

package e2e

import (
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestExecViaRunCommandUser: exec --via run-command runs as -l's (or user@'s) user, and
// --password-name goes with it as WindowsPasswordName, as they do for a session.
func TestExecViaRunCommandUser(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "exec", "--via", "run-command", "-l", "alice", "--password-name", "alice-pw", demoInstance, "--", `echo "as $USER"`)
	if r.code != 0 || r.stdout != "as alice\n" {
		t.Errorf("exit %d, stdout %q, stderr %q: want the command run as alice", r.code, r.stdout, r.stderr)
	}
	r = h.run("", "exec", "--via", "run-command", "alice@"+demoInstance, "--", `echo "as $USER"`)
	if r.code != 0 || r.stdout != "as alice\n" {
		t.Errorf("user@target: exit %d, stdout %q, stderr %q: want the command run as alice", r.code, r.stdout, r.stderr)
	}
	got := h.emu.RunRequests()
	want := []emulator.RunRequest{
		{InstanceIDs: []string{demoInstance}, Username: "alice", WindowsPasswordName: "alice-pw"},
		{InstanceIDs: []string{demoInstance}, Username: "alice"},
	}
	if len(got) != len(want) {
		t.Fatalf("RunCommand requests %+v, want %+v", got, want)
	}
	for i := range want {
		if strings.Join(got[i].InstanceIDs, ",") != strings.Join(want[i].InstanceIDs, ",") ||
			got[i].Username != want[i].Username || got[i].WindowsPasswordName != want[i].WindowsPasswordName {
			t.Errorf("RunCommand %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
